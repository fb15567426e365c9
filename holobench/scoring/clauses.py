"""Cutting an answer line that names several gold rows into one clause per row.

A line is cut at sentence ends, then at ``;`` or ``,`` / ``and`` (never inside a gold value,
parentheses or ``1,297``); what a clause says of every row ("each", a plural verb, a lead-in
before a colon) is given to the other clauses.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

from holobench.scoring.cells import Cell, Item
from holobench.scoring.values import numbers_in

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
_PLURAL_VERB = re.compile(r"\s*(?:have|are|were|do|all|both)\b", re.IGNORECASE)
_JOINTLY = re.compile(r"\b(?:between them|together|combined|in total|altogether|in all)\b", re.IGNORECASE)


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


def split_items(
    lines: list[str], headings: list[str], gold_rows: Sequence[Sequence[Any]], rows: list[list[Cell]]
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
        parts = _sentences(line, keys, protected, rows) if _rows_named(Item.of(line), keys) >= 2 else [line]
        for part in parts:
            if _rows_named(Item.of(part), naming) < 2:
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


def _lead_in(line: str, naming: list[list[Cell]]) -> tuple[str, str]:
    """``"2019: Yankees (103), Twins (101)"`` -> ``("2019", "Yankees (103), Twins (101)")``: text
    before a colon that names no row of its own is said of every row listed after it."""
    colon = _LEAD_COLON.search(line)
    if colon is None:
        return "", line
    lead, rest = line[: colon.start()], line[colon.end() :]
    if _rows_named(Item.of(lead), naming) or _rows_named(Item.of(rest), naming) < 2:
        return "", line
    return lead, rest


def _sentences(line: str, keys: list[list[Cell]], protected: Sequence[str], rows: list[list[Cell]]) -> list[str]:
    """The line's sentences; one that goes on about the rows of the sentence before it ("Rock.
    It has 1297 tracks."), or holds no name nor date of any row ("Alaska Airlines Inc. |
    operated one as well."), is joined to it."""
    groups: list[tuple[list[str], set[int]]] = []
    for sentence in _split_clauses(line, protected, _SENTENCES):
        item = Item.of(sentence)
        named = {r for r, cells in enumerate(keys) if any(c.found_in(item) for c in cells)}
        # no row named and no text or date of any row: numbers alone say nothing of which record
        silent = not named and not any(c.found_in(item) for row in rows for c in row if c.names)
        if groups and ((named and named <= groups[-1][1]) or silent):
            groups[-1][0].append(sentence)
        else:
            groups.append(([sentence], named))
    return [" ".join(parts) for parts, _ in groups]


def _rows_named(item: Item, naming: list[list[Cell]]) -> int:
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
    if not shared:
        return _share_predicate(pieces, names)
    if len(shared) == len(pieces):
        return pieces
    common = shared[-1]
    for name in names:
        common = re.sub(re.escape(name), " ", common, flags=re.IGNORECASE)
    named = [p for p in pieces if p not in shared or common.strip() != p.strip()]
    return [p if _DISTRIBUTIVE.search(p) else f"{p} {common.strip()}" for p in named]


def _share_predicate(pieces: list[str], names: Sequence[str]) -> list[str]:
    """ "EWR and LGA have none missing": a plural verb after the last clause's name says what follows
    of every clause before it that states no number of its own."""
    if len(pieces) < 2:
        return pieces
    rest = pieces[-1]
    for name in names:
        rest = re.sub(re.escape(name), " ", rest, flags=re.IGNORECASE)
    if rest == pieces[-1] or not _PLURAL_VERB.match(rest) or _JOINTLY.search(rest):
        return pieces  # "have 129 credits between them" is a sum, not each one's
    return [p if numbers_in(p) else f"{p} {rest.strip()}" for p in pieces[:-1]] + pieces[-1:]
