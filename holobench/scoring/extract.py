"""Reading the final answer out of a reply, and cutting it into items.

The answer is the text after the last "Final answer:" (or an "Answer:" line, or the last JSON
block of a ``structured`` reply); reasoning blocks never count. Items are JSON rows, table rows,
list lines or lines; a short heading above list lines is kept beside them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from holobench.prompts import answer_format, split_reasoning
from holobench.scoring.values import normalize_text

_MARKER = re.compile(r"final\s+answer\s*(?:\*\*|__)?\s*(?:is\s*)?[:：](?:[ \t]*(?:\*\*|__))?", re.IGNORECASE)
# Without "Final answer:", an answer introduced on its own line ("Answer: 2", "**Answer:** 2",
# "### Answer") after reasoning that mentions other numbers is the answer, not the whole reply.
_ANSWER_LINE = re.compile(
    r"^[ \t>#*_]*(?:the\s+)?(?:short\s+|my\s+)?answer(?:\s+is)?[ \t*_]*(?:[:：](?:[ \t]*(?:\*\*|__))?|$)",
    re.IGNORECASE | re.MULTILINE,
)


_JSON_BLOCK = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.DOTALL)
_BULLET = re.compile(r"^\s*(?:[-*\u2022\u2023\u25e6]|\(?\d{1,3}[.)]|#\d{1,3}[.:)]?)\s+")
_TABLE_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_NONE_PHRASES = re.compile(
    r"^\s*(?:\[\s*\]|no answer|none|nothing|n/?a|null|no such \w+|no results?|no rows?|no matches?)\W*$"
    r"|^\s*(?:none|no answer|nothing|n/a)\b"
    r"|\b(?:there (?:is|are|were|was) no(?:ne)?\b|no (?:such|matching)\b|none of the\b|does not contain enough"
    r"|not enough information|cannot be determined|no (?:rows?|results?|records?|items?|entries)\b"
    r"|nothing to (?:list|report|show|give)\b"
    r"|\b(?:could ?n[o'\u2019]?t|can ?n[o'\u2019]?t|did ?n[o'\u2019]?t) find any\b"
    r"|no \w+ (?:meets?|satisf(?:y|ies)|match(?:es)?|qualif(?:y|ies))\b)",
    re.IGNORECASE,
)


# A heading above list items is short ("**2019**", "### American League", "Fall 2010:")
_HEADING_WORDS = 6
_THRESHOLD = re.compile(
    r"\b(?:(?:more|fewer|less|greater|higher|lower)\s+than|at\s+(?:least|most)|over|under|above|below|exceeding)"
    r"\s+[-+$\u20ac\u00a3]?\d[\d,.]*\s*%?",
    re.IGNORECASE,
)


@dataclass
class Answer:
    """What the scorer reads from a reply: the final-answer text and its items."""

    text: str
    items: list[str]
    structured: bool = False
    #: per item, the heading it sits under ("**2019**"), said of it when matching
    headings: list[str] = field(default_factory=list)
    #: every line of the answer, lead-ins and conclusions too
    lines: list[str] = field(default_factory=list)


_LATEX_WRAPPER = re.compile(r"\\(?:boxed|text|textbf|mathrm|mathbf|num)\s*\{([^{}]*)\}")


def plain(text: str) -> str:
    """Numbers as LaTeX writes them, read as plain text: ``$327{,}122$`` -> ``327,122``,
    ``\\boxed{213}`` -> ``213``, ``1\\,275\\,275`` -> ``1275275``."""
    if "$" not in text and "\\" not in text and "{,}" not in text:
        return text
    text = text.replace("{,}", ",").replace("\\,", "").replace("\\!", "").replace("\\%", "%")
    for _ in range(3):  # nested wrappers
        text = _LATEX_WRAPPER.sub(r"\1", text)
    return text.replace("$", "")


def _json_rows(block: str) -> list[str] | None:
    try:
        data = json.loads(block)
    except ValueError:
        return None
    if isinstance(data, dict) and len(data) > 1 and all(not isinstance(v, dict | list) for v in data.values()):
        # {"9E": 28, "AA": 185}: a value per group, one row each (a one-row record is a list item)
        return [f"{key} | {'' if value is None else value}" for key, value in data.items()]
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        return [json.dumps(data)] if data is not None else None
    items = []
    for row in data:
        cells = list(row.values()) if isinstance(row, dict) else row if isinstance(row, list) else [row]
        items.append(" | ".join("" if c is None else str(c) for c in cells))
    return items


def extract_answer(response: str, prompt: str = "cot") -> Answer:
    """Pull the final answer out of a reply; see the module docstring for the order of rules."""
    prompt = answer_format(prompt)  # a closed-book prompt asks for its open-book twin's format
    _, text = split_reasoning(response or "")
    if prompt == "structured":
        blocks = _JSON_BLOCK.findall(text)
        if blocks:
            rows = _json_rows(blocks[-1].strip())
            if rows is not None:
                return Answer(blocks[-1].strip(), rows, structured=True)
    markers = list(_MARKER.finditer(text)) or list(_ANSWER_LINE.finditer(text))
    if markers:
        text = text[markers[-1].end() :].strip()
    elif prompt != "structured":
        blocks = _JSON_BLOCK.findall(text)
        rows = _json_rows(blocks[-1].strip()) if blocks else None
        if rows is not None:
            return Answer(blocks[-1].strip(), rows, structured=True)
    stripped = text.strip().strip("`").strip()
    if stripped.startswith("["):
        rows = _json_rows(stripped)
        if rows is not None:
            return Answer(stripped, rows, structured=True)
    items, headings = _lines(text)
    lines = [line.strip() for line in text.splitlines() if line.strip() and not _TABLE_SEPARATOR.match(line.strip())]
    return Answer(text.strip(), items, headings=headings, lines=lines)


def has_final_answer(response: str | None, prompt: str = "cot") -> bool:
    """Whether a reply got to its answer: reasoning that was cut off (an unclosed ``<think>``)
    has none; a ``cot`` reply needs its "Final answer:" (or "Answer:" line), a ``structured``
    one its JSON block; a ``direct`` or ``fewshot`` reply is its own answer when anything is left."""
    prompt = answer_format(prompt)
    _, text = split_reasoning(response or "")
    if not text.strip():
        return False
    if prompt == "structured":
        return bool(_JSON_BLOCK.search(text)) or text.strip().startswith(("[", "{"))
    if prompt in ("direct", "fewshot"):
        return True
    return bool(_MARKER.search(text) or _ANSWER_LINE.search(text))


def _lines(text: str) -> tuple[list[str], list[str]]:
    """Table rows or list lines when the answer has them (their lead-in lines are not items, but
    a short heading above them, "**2019**" or "American League:", is said of each): the items and
    their headings."""
    table: list[tuple[str, str]] = []
    listed: list[tuple[str, str]] = []
    plain: list[str] = []
    heading = ""
    lines = [line for line in text.splitlines() if line.strip()]
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("|") or (stripped.count("|") >= 2 and _is_table(lines, i)):
            if _TABLE_SEPARATOR.match(stripped):
                continue
            nxt = lines[i + 1].strip() if i + 1 < len(lines) else ""
            if _TABLE_SEPARATOR.match(nxt):
                continue  # the header row
            table.append((" | ".join(c.strip() for c in stripped.strip("|").split("|")), heading))
        elif _BULLET.match(line):
            listed.append((_BULLET.sub("", line, count=1).strip(), heading))
        else:
            plain.append(stripped)
            heading = stripped if len(normalize_text(stripped).split()) <= _HEADING_WORDS else ""
    if table or listed:
        return [item for item, _ in table + listed], [head for _, head in table + listed]
    return plain, [""] * len(plain)


def headed(item: str, lead: str) -> str:
    """An item with what its heading or lead-in says of it, less restated conditions ("more than
    95 wins" is the question's threshold, not a value of the row)."""
    lead = _THRESHOLD.sub(" ", lead).strip()
    return f"{item} ({lead})" if lead else item


def _is_table(lines: list[str], i: int) -> bool:
    return any(_TABLE_SEPARATOR.match(line.strip()) for line in lines[max(0, i - 2) : i + 3])


def says_none(answer: Answer) -> bool:
    if answer.structured:
        return not answer.items
    return bool(answer.text) and bool(_NONE_PHRASES.search(answer.text))
