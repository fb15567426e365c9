"""Answer prompts, installed with the package: ``cot`` (the paper's style), ``direct`` and
``structured`` (a JSON list of rows, for the deterministic scorer).  Instructions come first and
the question last, so a server's prefix cache can reuse the context across questions.

Each has a closed-book variant, ``<name>+closed`` (template ``<name>.closed.j2``): the question
with no context, to be answered from memory in the same answer format, so the same scorers
read it.  The suffix travels in every record's ``prompt``, so no report can mistake the probe
for a run that read the context."""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Sequence
from pathlib import Path

import jinja2

from holobench.errors import HoloBenchError

PROMPT_DIR = Path(__file__).resolve().parent
PROMPTS = ("cot", "direct", "structured", "fewshot")
#: The suffix of a closed-book prompt's name: the same question with the context withheld.
CLOSED = "+closed"
CLOSED_PROMPTS = tuple(name + CLOSED for name in PROMPTS)
#: ``auto``: ``fewshot`` for a model the backend knows to be a base model (no chat template), else ``cot``
AUTO = "auto"
#: The judge scorer's two steps (extract the final answer, then label gold rows).
JUDGE_PROMPTS = ("judge_extract", "judge_label")
#: The LLM verbalizer's system message and per-row request.
VERBALIZE_PROMPTS = ("verbalize_system", "verbalize_row")

_REASONING = re.compile(r"<(think|thinking|reasoning|reflection)>(.*?)(?:</\1>|\Z)", re.DOTALL | re.IGNORECASE)


@functools.cache
def _template(name: str) -> tuple[jinja2.Template, str]:
    path = PROMPT_DIR / f"{name.replace(CLOSED, '.closed')}.j2"
    if name not in PROMPTS + CLOSED_PROMPTS + JUDGE_PROMPTS + VERBALIZE_PROMPTS or not path.is_file():
        raise HoloBenchError(f"unknown prompt {name!r}; available: {', '.join(PROMPTS)}")
    source = path.read_text(encoding="utf-8")
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=False)
    return env.from_string(source), hashlib.sha256(source.encode("utf-8")).hexdigest()[:12]


_CONTEXT_MARK = "\x00holobench-context\x00"
_QUESTION_MARK = "\x00holobench-question\x00"


@functools.cache
def _frame(name: str) -> tuple[str, str, str] | None:
    """The template rendered around its two slots, when it uses each once, verbatim, context
    first: rendering is then three concatenations instead of a jinja pass over a 64k context."""
    text = _template(name)[0].render(context=_CONTEXT_MARK, question=_QUESTION_MARK)
    if text.count(_CONTEXT_MARK) != 1 or text.count(_QUESTION_MARK) != 1:
        return None
    head, rest = text.split(_CONTEXT_MARK)
    if _QUESTION_MARK not in rest:
        return None
    middle, tail = rest.split(_QUESTION_MARK)
    return head, middle, tail


def closed_book(name: str) -> bool:
    """Whether a prompt name (``cot+closed``, or ``cot+closed@<hash>`` from a manifest) is closed-book."""
    return name.split("@", 1)[0].endswith(CLOSED)


def answer_format(name: str) -> str:
    """The open-book prompt whose answer format ``name`` shares: what a scorer reads replies by."""
    return name.split("@", 1)[0].removesuffix(CLOSED)


def render_prompt(name: str, context: str, question: str, demos: Sequence[object] = ()) -> str:
    """The user message for one instance (``fewshot``: the completion text, after ``demos``); a
    closed-book prompt leaves ``context`` (and the demonstrations' contexts) out."""
    if name not in PROMPTS + CLOSED_PROMPTS:
        raise HoloBenchError(f"unknown prompt {name!r}; available: {', '.join(PROMPTS)}, {AUTO}")
    if name in CLOSED_PROMPTS:
        return _template(name)[0].render(question=question, demos=demos)
    if name == "fewshot":
        return _template(name)[0].render(context=context, question=question, demos=demos)
    frame = _frame(name)
    if frame is not None:
        return frame[0] + context + frame[1] + question + frame[2]
    return _template(name)[0].render(context=context, question=question)


def render_template(name: str, **values: object) -> str:
    """Any packaged template (the judge's, the verbalizer's), with its own variables."""
    return _template(name)[0].render(**values)


def prompt_version(name: str) -> str:
    """A hash of the template text: part of every cache key, so editing a prompt never reuses old answers."""
    return f"{name}@{_template(name)[1]}"


def split_reasoning(text: str) -> tuple[str | None, str]:
    """(reasoning, answer): ``<think>...</think>`` and similar blocks are taken out of the answer.

    An unclosed block (a reasoning model cut off by max_tokens) is all reasoning, no answer.
    """
    parts = [m.group(2).strip() for m in _REASONING.finditer(text)]
    if not parts:
        return None, text.strip()
    answer = _REASONING.sub("", text).strip()
    return "\n\n".join(p for p in parts if p) or None, answer
