"""LLM verbalizer: any OpenAI-compatible chat endpoint writes the sentences, in the paper's style.

Responses are cached on disk (SQLite, keyed by endpoint, model, prompt version and row), so a
database is paid for once.  Every sentence is checked like a template's: one line, every
non-null value present.  A sentence that fails is retried with the missing values named; if it
still fails, the row fails loudly (``strict``) or falls back to the generic sentence and is
counted in ``fallbacks``.  The API key is read from an environment variable and never stored.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from holobench._urls import redact_url
from holobench.cache import ResponseCache
from holobench.errors import FaithfulnessError, HoloBenchError
from holobench.records import TableSchema
from holobench.sql import json_value
from holobench.verbalize.faithfulness import check_sentence
from holobench.verbalize.generic import GenericVerbalizer, singular
from holobench.verbalize.templates import one_line

PROMPT_VERSION = "v1"
SYSTEM_PROMPT = (
    "You turn one database record into one fluent English sentence. Mention every field value "
    "exactly as given (numbers, dates, names, codes and ids), add nothing that is not in the record, "
    "and answer with the sentence only, on a single line."
)


def _user_prompt(table: str, row: Mapping[str, Any], missing: Sequence[str] = ()) -> str:
    record = json.dumps({k: json_value(v) for k, v in row.items()}, ensure_ascii=False)
    text = f"Table: {table} (one {singular(table)} per record)\nRecord: {record}"
    if missing:
        text += "\nYour previous sentence left out: " + ", ".join(missing) + ". Include every value."
    return text


class LLMVerbalizer:
    """Sentences from a chat model, validated and cached."""

    def __init__(
        self,
        schema: TableSchema,
        *,
        model: str,
        base_url: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        cache_dir: Path = Path(".cache/holobench/verbalize"),
        temperature: float = 0.0,
        max_attempts: int = 2,
        strict: bool = True,
        timeout: float = 60.0,
    ) -> None:
        import openai

        self.schema = schema
        self.model = model
        self.base_url = base_url
        self.name = f"llm:{model}"
        self.temperature = temperature
        self.max_attempts = max_attempts
        self.strict = strict
        self.fallbacks = 0
        self._fallback = GenericVerbalizer(schema)
        self._client = openai.OpenAI(
            base_url=base_url, api_key=os.environ.get(api_key_env) or "not-needed", timeout=timeout, max_retries=3
        )
        self._cache = ResponseCache(cache_dir / "responses.sqlite")

    def _key(self, messages: list[dict[str, str]]) -> str:
        payload = json.dumps(
            [PROMPT_VERSION, self.base_url, self.model, self.temperature, messages], sort_keys=True, ensure_ascii=False
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    def _complete(self, messages: list[dict[str, str]]) -> str:
        key = self._key(messages)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        import openai

        try:
            response = self._client.chat.completions.create(
                model=self.model,
                messages=messages,  # type: ignore[arg-type]
                temperature=self.temperature,
            )
        except openai.OpenAIError as exc:
            raise HoloBenchError(
                f"LLM verbalizer: request to {redact_url(self.base_url or 'the OpenAI API')} failed: "
                f"{type(exc).__name__}"
            ) from exc
        text = one_line(response.choices[0].message.content or "")
        self._cache.put(key, text)
        return text

    def sentence(self, index: int, row: Mapping[str, Any]) -> str:
        missing: list[str] = []
        for _ in range(self.max_attempts):
            messages = [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": _user_prompt(self.schema.name, row, missing)},
            ]
            text = self._complete(messages)
            problems = check_sentence(self.schema.name, index, dict(row), text)
            if not problems:
                return text
            missing = [f"{p.column}={p.value!r}" for p in problems]
        if self.strict:
            raise FaithfulnessError(
                f"LLM verbalizer: {self.schema.name} row {index}: sentence still lacks {', '.join(missing)} "
                f"after {self.max_attempts} attempts; use another model or allow fallbacks"
            )
        self.fallbacks += 1
        return self._fallback.sentence(row)

    def verbalize_rows(self, rows: Sequence[Mapping[str, Any]]) -> list[str]:
        return [self.sentence(i, r) for i, r in enumerate(rows)]

    def fingerprint(self) -> str | None:
        return None  # a model's sentences are cached by the response cache, not reused here
