"""The deterministic ``match`` scorer: final-answer extraction, value normalisation, row labels.

Rules, in the order they apply (the README lists them for users):

1. Reasoning blocks (``<think>``...) never count.  The final answer is the text after the last
   "Final answer:"; for the ``structured`` prompt, the last JSON code block comes first.  With
   neither, the whole reply is the answer.
2. The answer is cut into *items*: JSON rows, markdown-table rows, list lines, other lines; a line
   that names several gold rows is cut further at ``;``, ``,`` and ``and`` (never inside a gold
   value such as ``"Santana, Carlos"``, nor inside ``1,297``); a short heading above items and
   a lead-in before a colon are said of each item under them.
3. A gold row is Exact when all its non-null cells are found in one item, Partial when some are,
   No otherwise.  In a Ranking question, Exact rows given out of the gold order (outside the
   longest in-order run) become Partial.
4. Empty gold: one label, Exact when the answer says there is none, else No.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from difflib import SequenceMatcher
from functools import lru_cache
from typing import Any

from holobench.prompts import split_reasoning
from holobench.scoring.records import MAX_JUDGED_ROWS, Label
from holobench.scoring.values import (
    Number,
    dates_in,
    normalize_text,
    number_matches,
    numbers_in,
    parse_iso,
    parse_number,
    times_in,
)
from holobench.types import Category

DEFAULT_REL_TOL = 0.01
#: Rows beyond this are not matched at all: they cannot be labelled and only feed precision.
MAX_MATCHED_ROWS = 1000

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
_PLACEHOLDER = "\x00"
# A sentence end ("Fall 2001: 2 sections. Fall 2002: 9 sections.") always separates clauses.
# (not after an initial or a short title: "J. Smith", "St. Louis", "Dr. Lee"; but after a unit: "87.98 °F.")
_SENTENCE = r"(?<=[.!?])(?<![^\w\u00b0][A-Z][.!?])(?<!^[A-Z][.!?])(?<!\b[A-Z][a-z][.!?])\s+(?=\S)"
_SENTENCES = re.compile(_SENTENCE)
_PARENTHESES = re.compile(r"\([^()]*\)")
_SEMICOLON = re.compile(";")
_LEAD_COLON = re.compile(r":\s+")
# "," between clauses, never inside 1,297; "and" and "&" between words
_CLAUSE = re.compile(r"(?<!\d),|,(?!\d{3}\b)|\s+and\s+|\s+&\s+")
# "Cadis and Mercurio (129 credits each)": the value belongs to every row the clause lists
_DISTRIBUTIVE = re.compile(r"\b(?:each|apiece|both|tied?(?:\s+at)?)\b", re.IGNORECASE)
# A name written with a slip still says which row is meant ("ozunam01" for "ozunama01")
_MIN_MISSPELT = 6
_ALIKE = 0.85
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


@dataclass(frozen=True)
class _Item:
    text: str
    norm: str
    numbers: tuple[Number, ...]
    dates: frozenset[date] = frozenset()
    times: frozenset[tuple[int, int, int]] = frozenset()

    @staticmethod
    def of(text: str) -> _Item:
        return _read_item(text)


@lru_cache(maxsize=4096)
def _read_item(text: str) -> _Item:
    """Read once: a line is read again as a clause, a sentence and an item, and replies repeat."""
    text = _plain(text)
    norm = normalize_text(text)
    bare = _POSSESSIVE.sub(r"\1", text)  # "the BBWAA's lowest" names BBWAA
    if bare != text:
        norm = f"{norm} {normalize_text(bare)}"
    return _Item(text, f" {norm} ", tuple(numbers_in(text)), frozenset(dates_in(text)), frozenset(times_in(text)))


_POSSESSIVE = re.compile(r"(\w)['\u2019]s\b")
_LATEX_WRAPPER = re.compile(r"\\(?:boxed|text|textbf|mathrm|mathbf|num)\s*\{([^{}]*)\}")


def _plain(text: str) -> str:
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
    return Answer(text.strip(), items, headings=headings)


def has_final_answer(response: str | None, prompt: str = "cot") -> bool:
    """Whether a reply got to its answer: reasoning that was cut off (an unclosed ``<think>``)
    has none; a ``cot`` reply needs its "Final answer:" (or "Answer:" line), a ``structured``
    one its JSON block; a ``direct`` or ``fewshot`` reply is its own answer when anything is left."""
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


def _headed(item: str, lead: str) -> str:
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


class _Cell:
    """One gold cell, prepared once so matching against many items stays cheap."""

    def __init__(self, value: Any, rel_tol: float) -> None:
        self.value = value
        self.rel_tol = rel_tol
        self.number: float | None = None
        self.exact = False
        self.norm = ""
        self.when: tuple[date, tuple[int, int, int] | None] | None = None
        self.boolean: bool | None = None
        self.longer: tuple[str, ...] = ()  # other gold values that contain this one ("AAC audio file")
        if isinstance(value, bool):
            self.boolean = value
        elif isinstance(value, int):
            self.number, self.exact = float(value), True
        elif isinstance(value, float):
            self.number = value
        elif isinstance(value, str):
            self.when = parse_iso(value)
            if self.when is None:
                self.number = parse_number(value)
                if self.number is not None:
                    self.exact = re.fullmatch(r"\s*[-+]?\d+\s*", value) is not None
            self.norm = normalize_text(value)
        elif value is not None:
            self.norm = normalize_text(str(value))
        words = self.norm.split()
        self.joined = "".join(words) if 1 < len(words) <= 3 and all(w.isalpha() for w in words) else None

    @property
    def ignored(self) -> bool:
        return self.value is None

    @property
    def key(self) -> tuple[object, ...]:
        """Equal for cells that read as the same value (``0`` and ``0.0``, ``"Rock"`` and ``"ROCK"``)."""
        if self.when is not None:
            return ("date", self.when)
        if self.number is not None:
            return ("number", self.number)
        if self.boolean is not None:
            return ("bool", self.boolean)
        return ("text", self.norm)

    @property
    def names(self) -> bool:
        """Text and dates say which record a clause is about; numbers and booleans do not."""
        return self.when is not None or (self.number is None and self.boolean is None and bool(self.norm))

    def found_in(self, item: _Item) -> bool:
        if self.boolean is not None:
            words = set(item.norm.split())
            return bool(words & ({"true", "yes"} if self.boolean else {"false", "no"}))
        if self.when is not None:
            day, clock = self.when
            if day not in item.dates:
                return False
            return clock is None or clock == (0, 0, 0) or clock in item.times
        if self.number is not None:
            if number_matches(self.number, self.exact, item.numbers, self.rel_tol):
                return True
            if not self.norm or not isinstance(self.value, str):
                return False
        if not self.norm:
            return isinstance(self.value, str) and self.value.strip().casefold() in item.text.casefold()
        text = item.norm
        for value in self.longer:  # "AAC audio file" inside "Purchased AAC audio file" is not it
            text = text.replace(f" {value} ", " ")
        # "La Guardia" written "LaGuardia"
        return f" {self.norm} " in text or (self.joined is not None and f" {self.joined} " in text)


@dataclass
class MatchResult:
    labels: list[Label]
    gold_rows: int
    answer: Answer
    matched_items: int

    @property
    def precision(self) -> float | None:
        if not self.answer.items:
            return None
        return self.matched_items / len(self.answer.items)


def _split_clauses(line: str, protected: Sequence[str], separator: re.Pattern[str] | None = None) -> list[str]:
    mask = list(line)
    for value in protected:
        for m in re.finditer(re.escape(value), line, re.IGNORECASE):
            mask[m.start() : m.end()] = _PLACEHOLDER * (m.end() - m.start())
    for m in _PARENTHESES.finditer(line):  # "Canada (56 invoices, avg 5.43)": one clause
        mask[m.start() : m.end()] = _PLACEHOLDER * (m.end() - m.start())
    masked = "".join(mask)
    separator = separator or (_SEMICOLON if ";" in masked else _CLAUSE)
    pieces, start = [], 0
    for m in separator.finditer(masked):
        pieces.append(line[start : m.start()])
        start = m.end()
    pieces.append(line[start:])
    return [p.strip() for p in pieces if p.strip()]


def match(
    gold_rows: Sequence[Sequence[Any]],
    response: str | None,
    *,
    prompt: str = "cot",
    categories: Sequence[Category | str] = (),
    rel_tol: float = DEFAULT_REL_TOL,
) -> MatchResult:
    """Label each judged gold row of one prediction."""
    answer = extract_answer(response or "", prompt)
    if not gold_rows:
        none = says_none(answer)
        return MatchResult([Label.EXACT if none else Label.NO], 0, answer, len(answer.items) if none else 0)
    rows = [[_Cell(v, rel_tol) for v in row] for row in gold_rows[:MAX_MATCHED_ROWS]]
    _mark_longer(rows)
    if says_none(answer) and not answer.items[1:]:
        # "none": right for rows that are all NULL, and for a count of zero it states ("None of
        # the tracks has it, so the count is zero"); never partly right
        single = _Item.of(answer.items[0]) if answer.items else _Item.of("")
        nulls = [
            Label.EXACT
            if all(c.ignored for c in row) or all(c.ignored or (c.number == 0 and c.found_in(single)) for c in row)
            else Label.NO
            for row in rows[:MAX_JUDGED_ROWS]
        ]
        return MatchResult(nulls, len(gold_rows), answer, sum(label is Label.EXACT for label in nulls))

    heads = answer.headings or [""] * len(answer.items)
    texts, scopes = (answer.items, heads) if answer.structured else _split_items(answer.items, heads, gold_rows, rows)
    answer.items = texts
    items = [_Item.of(_headed(t, scope)) for t, scope in zip(texts, scopes, strict=True)]
    found = [[[c.found_in(item) for c in row] for item in items] for row in rows]

    # Exact rows first; an item that fully answers one row gives no partial credit to another
    # ("Dee Gordon .333" says nothing about Harper's .330).
    wanted = [[i for i, c in enumerate(row) if not c.ignored] for row in rows]
    keys = [{c.key for c in row if not c.ignored} for row in rows]

    def identifies(r: int, j: int) -> bool:
        given = {rows[r][i].key for i in wanted[r] if found[r][j][i]}
        return not any(given <= keys[o] for o in range(len(rows)) if o != r and keys[o] != keys[r])

    hits = [[sum(found[r][j][i] for i in wanted[r]) for j in range(len(items))] for r in range(len(rows))]
    texts_of = {c.norm for row in rows for c in row if c.names and c.when is None}
    exact_item: list[int | None] = []
    last, used = -1, set()
    for r in range(len(rows)):
        full = [j for j, h in enumerate(hits[r]) if wanted[r] and h == len(wanted[r])]
        # In gold order, take the first fitting item at or after the previous row's, unused if
        # possible: repeated values (two rows "Aaaa") then land on their own items, in order.
        pick = next(
            (j for j in full if j >= last and j not in used),
            next((j for j in full if j not in used), full[0] if full else None),
        )
        exact_item.append(pick)
        if pick is not None:
            last = pick
            used.add(pick)
    claimed = {j for j in exact_item if j is not None}
    labels: list[Label] = []
    matched: set[int] = set(claimed)
    for r in range(len(rows)):
        if not wanted[r]:  # an all-null row (an average over nothing): the answer must say there is none
            null = says_none(answer) or any(" null " in it.norm or " none " in it.norm for it in items)
            labels.append(Label.EXACT if null else Label.NO)
        elif exact_item[r] is not None:
            labels.append(Label.EXACT)
        else:
            # Partial credit needs values that single this row out: "Veterans" in another
            # inductee's line says nothing about a missing one; "Fall 2010" does name a row.
            free = [(h, j) for j, h in enumerate(hits[r]) if j not in claimed and h and identifies(r, j)]
            if free:
                matched.add(max(free, key=lambda x: (x[0], -x[1]))[1])
            elif near := [j for j, it in enumerate(items) if j not in claimed and _misspelt(rows[r], it, texts_of)]:
                free = [(0, near[0])]
                matched.add(near[0])
            labels.append(Label.PARTIAL if free else Label.NO)
    best_item = exact_item
    labels = labels[:MAX_JUDGED_ROWS]
    if Category.RANKING in {Category(c) for c in categories} and len(gold_rows) > 1:
        labels = _order_penalty(labels, best_item[: len(labels)])
    return MatchResult(labels, len(gold_rows), answer, len(matched))


def _misspelt(row: list[_Cell], item: _Item, gold_texts: set[str]) -> bool:
    """Whether ``item`` writes one of the row's names with a slip ("ozunam01" for "ozunama01"):
    the same digits, at least 85% alike, and nearer to it than to any other gold name. That
    says which row is meant, but not rightly: Partial at most."""
    words = item.norm.split()
    for cell in row:
        if not cell.names or cell.when is not None or len(cell.norm) < _MIN_MISSPELT:
            continue
        size = len(cell.norm.split())
        digits = re.sub(r"\D", "", cell.norm)
        for k in range(len(words) - size + 1):
            window = " ".join(words[k : k + size])
            if window == cell.norm or re.sub(r"\D", "", window) != digits:
                continue
            alike = SequenceMatcher(None, window, cell.norm).ratio()
            if alike >= _ALIKE and all(
                SequenceMatcher(None, window, other).ratio() < alike for other in gold_texts if other != cell.norm
            ):
                return True
    return False


def _mark_longer(rows: list[list[_Cell]]) -> None:
    """Tell each text cell which other gold values contain it as words."""
    texts = {c.norm for row in rows for c in row if c.norm and c.number is None and c.when is None}
    if len(texts) < 2:
        return
    for row in rows:
        for cell in row:
            if cell.norm in texts:
                cell.longer = tuple(
                    sorted((t for t in texts if t != cell.norm and f" {cell.norm} " in f" {t} "), key=len, reverse=True)
                )


def _split_items(
    lines: list[str], headings: list[str], gold_rows: Sequence[Sequence[Any]], rows: list[list[_Cell]]
) -> tuple[list[str], list[str]]:
    """Cut a line into clauses when it names two or more gold rows; each clause keeps its line's
    heading, and a lead-in the line gives its clauses ("2019: ...").

    A row is *named* by a value no other gold row has: any value when rows have one cell, else a
    text or date value (numbers are too easily shared to say which record a clause is about, and
    cutting a "Rock, 1297" line apart would break the row it holds).
    """
    if len(rows) < 2:
        return lines, headings
    single = all(len([c for c in row if not c.ignored]) <= 1 for row in rows)
    counts = Counter(c.key for row in rows for c in {c.key: c for c in row}.values())
    naming = [[c for c in row if not c.ignored and counts[c.key] == 1 and (single or c.names)] for row in rows]
    protected = sorted(
        {v for row in gold_rows for v in row if isinstance(v, str) and re.search(r"[,;&]| and |[.!?]\s", v)},
        key=len,
        reverse=True,
    )
    names = sorted({str(c.value) for cells in naming for c in cells if isinstance(c.value, str)}, key=len, reverse=True)
    # Sentences are cut apart by any value only one row has, numbers included ("Fall 2001: 2
    # sections. Fall 2002: 9 sections."): a sentence end is a clearer border than a comma.
    keys = [[c for c in row if not c.ignored and counts[c.key] == 1] for row in rows]
    out: list[str] = []
    scopes: list[str] = []
    for line, heading in zip(lines, headings, strict=True):
        parts = _sentences(line, keys, protected, rows) if _rows_named(_Item.of(line), keys) >= 2 else [line]
        for part in parts:
            if _rows_named(_Item.of(part), naming) < 2:
                out.append(part)
                scopes.append(heading)
                continue
            lead, rest = _lead_in(part, naming)
            clauses = _distribute(_split_clauses(rest, protected), names)
            if lead and clauses:  # the lead stays in the first clause's text, as written
                clauses[0] = f"{lead}: {clauses[0]}"
            out.extend(clauses)
            scopes.extend(f"{heading} {lead}".strip() for _ in clauses)
    return out, scopes


def _lead_in(line: str, naming: list[list[_Cell]]) -> tuple[str, str]:
    """``"2019: Yankees (103), Twins (101)"`` -> ``("2019", "Yankees (103), Twins (101)")``: text
    before a colon that names no row of its own is said of every row listed after it."""
    colon = _LEAD_COLON.search(line)
    if colon is None:
        return "", line
    lead, rest = line[: colon.start()], line[colon.end() :]
    if _rows_named(_Item.of(lead), naming) or _rows_named(_Item.of(rest), naming) < 2:
        return "", line
    return lead, rest


def _sentences(line: str, keys: list[list[_Cell]], protected: Sequence[str], rows: list[list[_Cell]]) -> list[str]:
    """The line's sentences; one that goes on about the rows of the sentence before it ("Rock.
    It has 1297 tracks."), or holds no name nor date of any row ("Alaska Airlines Inc. |
    operated one as well."), is joined to it."""
    groups: list[tuple[list[str], set[int]]] = []
    for sentence in _split_clauses(line, protected, _SENTENCES):
        item = _Item.of(sentence)
        named = {r for r, cells in enumerate(keys) if any(c.found_in(item) for c in cells)}
        # no row named and no text or date of any row: numbers alone say nothing of which record
        silent = not named and not any(c.found_in(item) for row in rows for c in row if c.names)
        if groups and ((named and named <= groups[-1][1]) or silent):
            groups[-1][0].append(sentence)
        else:
            groups.append(([sentence], named))
    return [" ".join(parts) for parts, _ in groups]


def _rows_named(item: _Item, naming: list[list[_Cell]]) -> int:
    """How many rows ``item`` names (up to two: all the caller needs to know)."""
    named = 0
    for cells in naming:
        if any(c.found_in(item) for c in cells):
            named += 1
            if named >= 2:
                break
    return named


def _distribute(pieces: list[str], names: Sequence[str]) -> list[str]:
    """A clause saying "each" / "both" gives what it states, less the names in it, to every other
    clause of its line; a clause that was nothing but that shared value is then dropped."""
    shared = [p for p in pieces if _DISTRIBUTIVE.search(p)]
    if not shared or len(shared) == len(pieces):
        return pieces
    common = shared[-1]
    for name in names:
        common = re.sub(re.escape(name), " ", common, flags=re.IGNORECASE)
    named = [p for p in pieces if p not in shared or common.strip() != p.strip()]
    return [p if _DISTRIBUTIVE.search(p) else f"{p} {common.strip()}" for p in named]


def _order_penalty(labels: list[Label], positions: list[int | None]) -> list[Label]:
    """An Exact row given in the wrong place becomes Partial. A row is in place when it belongs to
    every longest run of rows given in gold order: a row moved far is outside all of them (and the
    rows it jumped over stay Exact), while of two swapped neighbours each is outside one of the
    runs, so both are in the wrong place, as a grader marks them."""
    exact = [(r, p) for r, p in enumerate(positions) if labels[r] is Label.EXACT and p is not None]
    if len(exact) < 2:
        return labels
    pos = [p for _, p in exact]
    n = len(pos)
    ending = [1] * n  # longest in-order run ending at i
    for i in range(n):
        for j in range(i):
            if pos[j] <= pos[i]:
                ending[i] = max(ending[i], ending[j] + 1)
    starting = [1] * n  # longest in-order run starting at i
    for i in reversed(range(n)):
        for j in range(i + 1, n):
            if pos[i] <= pos[j]:
                starting[i] = max(starting[i], starting[j] + 1)
    longest = max(ending)
    on_some = [ending[i] + starting[i] - 1 == longest for i in range(n)]
    # on every longest run: the only row that any such run can use at its step
    steps = Counter(ending[i] for i in range(n) if on_some[i])
    keep = {exact[i][0] for i in range(n) if on_some[i] and steps[ending[i]] == 1}
    return [
        Label.PARTIAL if label is Label.EXACT and r not in keep and positions[r] is not None else label
        for r, label in enumerate(labels)
    ]
