"""LLM verbalizer: any OpenAI-compatible chat endpoint writes the sentences, in the paper's style.

Requests go through the backends' :class:`~holobench.backends.client.Client` (the ``openai``
backend), so they get the runner's bounded concurrency, retries with backoff, timeouts and
on-disk response cache (keyed by endpoint, model, prompt templates and row): a database is paid
for once, and a table's rows are asked for at once. Every sentence is checked like a
template's: one line, every non-null value present. A sentence that fails is retried with the
missing values named; if it still fails, the row fails loudly (``strict``) or falls back to the
generic sentence and is counted in ``fallbacks``. The API key is read from an environment
variable and never stored.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from holobench._urls import redact_url
from holobench.backends.base import ChatMessage, ChatRequest, SamplingParams
from holobench.backends.client import Client
from holobench.backends.registry import BackendOptions, create_backend
from holobench.cache import ResponseCache
from holobench.errors import FaithfulnessError, HoloBenchError
from holobench.prompts import prompt_version, render_template
from holobench.records import TableSchema
from holobench.sql import json_value
from holobench.verbalize.faithfulness import check_sentence
from holobench.verbalize.generic import GenericVerbalizer, singular
from holobench.verbalize.templates import one_line

SYSTEM_PROMPT = render_template("verbalize_system")


def _user_prompt(table: str, row: Mapping[str, Any], missing: Sequence[str] = ()) -> str:
    record = json.dumps({k: json_value(v) for k, v in row.items()}, ensure_ascii=False)
    return render_template("verbalize_row", table=table, singular=singular(table), record=record, missing=list(missing))


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
        concurrency: int = 8,
        max_retries: int = 3,
    ) -> None:
        self.schema = schema
        self.model = model
        self.base_url = base_url
        self.api_key_env = api_key_env
        self.cache_dir = cache_dir
        self.name = f"llm:{model}"
        self.temperature = temperature
        self.max_attempts = max_attempts
        self.strict = strict
        self.timeout = timeout
        self.concurrency = concurrency
        self.max_retries = max_retries
        self.fallbacks = 0
        self._fallback = GenericVerbalizer(schema)

    def _client(self) -> Client:
        options = BackendOptions(model=self.model, base_url=self.base_url, api_key_env=self.api_key_env)
        return Client(
            create_backend("openai", options),
            concurrency=self.concurrency,
            max_retries=self.max_retries,
            timeout=self.timeout,
            backoff_base=0.5,
            cache=ResponseCache(self.cache_dir / "responses.sqlite"),
        )

    async def _complete(self, client: Client, index: int, row: Mapping[str, Any], missing: Sequence[str]) -> str:
        request = ChatRequest(
            instance_id=f"{self.schema.name}#{index}",
            messages=(
                ChatMessage(role="system", content=SYSTEM_PROMPT),
                ChatMessage(role="user", content=_user_prompt(self.schema.name, row, missing)),
            ),
            sampling=SamplingParams(temperature=self.temperature),
            prompt="verbalize_row",
            metadata={"cache_salt": prompt_version("verbalize_system")},
        )
        outcome = await client.complete(request)
        if outcome.completion is None:
            kind = outcome.error.kind if outcome.error is not None else "error"
            raise HoloBenchError(
                f"LLM verbalizer: request to {redact_url(self.base_url or 'the OpenAI API')} failed: {kind}"
            )
        return one_line(outcome.completion.text)

    async def _sentence(self, client: Client, index: int, row: Mapping[str, Any]) -> str:
        missing: list[str] = []
        for _ in range(self.max_attempts):
            text = await self._complete(client, index, row, missing)
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

    async def _sentences(self, rows: Sequence[Mapping[str, Any]]) -> list[str]:
        client = self._client()
        try:
            return list(await asyncio.gather(*(self._sentence(client, i, r) for i, r in enumerate(rows))))
        finally:
            await client.backend.aclose()
            if client.cache is not None:
                client.cache.close()

    def verbalize_rows(self, rows: Sequence[Mapping[str, Any]]) -> list[str]:
        return asyncio.run(self._sentences(rows))

    def fingerprint(self) -> str | None:
        return None  # a model's sentences are cached by the response cache, not reused here
