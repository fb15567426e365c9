"""Counterfactual databases: a seeded, consistent rewrite of a database's values before sampling.

The bundled databases are famous public data, so a model may answer from memory. A perturbed
database keeps the schema, the keys and every row's place in its table, and changes what the
rows say, by three kinds of rewrite (``Perturbation.kinds``):

* ``rows``: in each table, the non-key values of every row move together to another row (one
  seeded permutation per table). Ranges, types, precision, ties and each row's own coherence
  (hits never above at-bats) are kept; which player, flight or invoice they belong to is not.
* ``names``: person names, places and titles are replaced by generated ones of the same kind, one
  mapping per kind for the whole database (a city is renamed the same way in every table).
* ``dates``: date and timestamp columns shift by one offset per database, so intervals stay.

Keys (primary, foreign, referenced, ``*_id``) are never changed, so joins stay intact. Every value
a query compares with a literal (``'Brazil'``, a ``LIKE 'Rock%'`` match) is kept, and a date column
compared with one is not shifted, so each question still means what it says. The literals are
those of every query the source ships for the database plus any extra SQL given (an ad-hoc query),
so the rewrite depends on the source, the database, the seed and the kinds only, and
:func:`materialise` writes it to SQLite for anyone to re-verify gold. Randomness comes from
SHA-256 seeds, never ``hash()``, so every process rewrites the same way.
"""

from __future__ import annotations

import datetime as dt
import random
import re
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlglot import exp

from holobench.database import Database, load_table, lock_down, new_connection
from holobench.errors import HoloBenchError
from holobench.lines import seeded_rng
from holobench.records import Perturbation, Query, TableSchema
from holobench.sources.base import Source
from holobench.sql import parse

PERTURB_VERSION = 1

#: name kinds, by column name (first match wins); one mapping per kind per database
NAME_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("person", re.compile(r"(first|last|given|family|middle|nick)_?name$|^name_?(first|last)$")),
    ("city", re.compile(r"city$")),
    ("region", re.compile(r"(^|_)(state|province|region|county)$")),
    ("country", re.compile(r"country$")),
    ("address", re.compile(r"(^|_)(address|street)$")),
    ("title", re.compile(r"(^|_)(name|title)$")),
)
#: a title column with at most this many distinct values is a vocabulary (job titles, media
#: types), not entities: its values are kept wherever they occur
CATEGORY_LIMIT = 8
_KEY_NAME = re.compile(r"(^|_)id$|[a-z]ID$|[a-z]Id$", re.IGNORECASE)
_CODE = re.compile(r"^[A-Z]{1,3}$")
_COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Like, exp.ILike, exp.In, exp.Between)

_ONSETS = ("b", "br", "c", "d", "dr", "f", "g", "gr", "h", "j", "k", "l", "m", "n", "p", "r", "s", "st", "t", "v")
_VOWELS = ("a", "e", "i", "o", "u", "ai", "ea", "io")
_CODAS = ("", "", "n", "r", "l", "s", "m", "nd", "rt", "x")
_ADJECTIVES = ("Silent", "Golden", "Hollow", "Crimson", "Distant", "Electric", "Gentle", "Northern", "Broken",
               "Hidden", "Restless", "Velvet", "Wild", "Paper", "Silver", "Burning", "Quiet", "Midnight")  # fmt: skip
_NOUNS = ("River", "Harbor", "Engine", "Garden", "Signal", "Lantern", "Mirror", "Orchard", "Comet", "Canyon",
          "Letter", "Meadow", "Tower", "Echo", "Voyage", "Forest", "Bridge", "Parade")  # fmt: skip
_STREETS = ("Street", "Avenue", "Road", "Lane", "Way", "Drive")
_PLACE_ENDS = {"city": ("ton", "ville", "burg", "mouth", "field", "port"), "region": ("shire", "ia", "mark"),
               "country": ("ia", "land", "stan", "ora")}  # fmt: skip


@dataclass
class Pins:
    """What the queries compare with literals: those values are kept, and such columns' dates stay."""

    equal: set[str] = field(default_factory=set)  # literal strings, lower-cased
    like: dict[str, list[re.Pattern[str]]] = field(default_factory=dict)  # column -> LIKE patterns
    columns: set[str] = field(default_factory=set)  # lower-cased column names compared with a literal

    def keeps(self, column: str, value: str) -> bool:
        return value.lower() in self.equal or any(p.fullmatch(value) for p in self.like.get(column.lower(), ()))


def collect_pins(sqls: Iterable[str]) -> Pins:
    """Literals of every comparison in ``sqls`` (SQLite dialect), with the columns they meet."""
    pins = Pins()
    for sql in sqls:
        for node in parse(sql).find_all(*_COMPARISONS):
            parts = [node.this, *(node.args.get(k) for k in ("expression", "low", "high")), *node.expressions]
            literals = [p for p in parts if isinstance(p, exp.Literal)]
            columns = [c.name.lower() for p in parts if p is not None for c in p.find_all(exp.Column)]
            if not literals or not columns:
                continue
            pins.columns.update(columns)
            for lit in literals:
                if isinstance(node, exp.Like | exp.ILike):
                    for col in columns:
                        pins.like.setdefault(col, []).append(_like_pattern(lit.name))
                else:
                    pins.equal.add(lit.name.lower())
    return pins


def _like_pattern(pattern: str) -> re.Pattern[str]:
    """SQL LIKE as a regular expression (``%`` any run, ``_`` one character, ASCII case-insensitive)."""
    body = "".join(".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern)
    return re.compile(body, re.IGNORECASE | re.DOTALL)


def key_columns(schemas: Sequence[TableSchema]) -> dict[str, set[str]]:
    """Per table, the columns that identify rows or link tables: never rewritten."""
    keys = {s.name: set(s.primary_key) | {fk.column for fk in s.foreign_keys} for s in schemas}
    for s in schemas:
        for fk in s.foreign_keys:
            keys.setdefault(fk.ref_table, set()).add(fk.ref_column)
        keys[s.name].update(c for c in s.column_names if _KEY_NAME.search(c))
    return {s.name: {c for c in s.column_names if c.lower() in {k.lower() for k in keys.get(s.name, ())}}
            for s in schemas}  # fmt: skip


def name_kind(column: str, duck_type: str) -> str | None:
    if duck_type != "VARCHAR":
        return None
    lowered = column.lower()
    return next((kind for kind, pattern in NAME_KINDS if pattern.search(lowered)), None)


def _word(rng: random.Random, syllables: int) -> str:
    parts = (rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS) for _ in range(syllables))
    return "".join(parts).capitalize()


def generate_name(kind: str, original: str, rng: random.Random) -> str:
    """A plausible new value of ``kind``, shaped like ``original`` (a code stays a code of the same
    length; a name of two words gets two words)."""
    if _CODE.match(original):
        return "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in original)
    if kind == "person":
        return " ".join(_word(rng, rng.randint(2, 3)) for _ in original.split() or [original])
    if kind in _PLACE_ENDS:
        return _word(rng, rng.randint(1, 2)) + rng.choice(_PLACE_ENDS[kind])
    if kind == "address":
        return f"{rng.randint(1, 9999)} {_word(rng, 2)} {rng.choice(_STREETS)}"
    adjective, noun, word = rng.choice(_ADJECTIVES), rng.choice(_NOUNS), _word(rng, rng.randint(2, 3))
    return rng.choice((f"The {adjective} {noun}", f"{adjective} {word}", f"{word} {noun}", f"{noun} of {word}"))


def _name_maps(db: Database, keys: dict[str, set[str]], pins: Pins, seed: int) -> dict[str, dict[str, str]]:
    """One injective mapping per name kind over the whole database; kept values map to themselves
    and no new value equals an old one, so distinct stays distinct and joins on names still join."""
    values: dict[str, set[str]] = {}
    fixed: dict[str, set[str]] = {}
    for schema in db.schemas:
        for j, col in enumerate(schema.columns):
            kind = name_kind(col.name, col.type)
            if kind is None or col.name in keys[schema.name]:
                continue
            distinct = {r[j] for r in db.rows(schema.name) if isinstance(r[j], str)}
            values.setdefault(kind, set()).update(distinct)
            kept = fixed.setdefault(kind, set())
            if kind == "title" and len(distinct) <= CATEGORY_LIMIT:
                kept.update(distinct)
            kept.update(v for v in distinct if pins.keeps(col.name, v))
    maps: dict[str, dict[str, str]] = {}
    for kind in sorted(values):
        rng = seeded_rng(seed, db.db_id, "names", kind)
        taken = {v.lower() for v in values[kind]} | pins.equal
        mapping: dict[str, str] = {}
        for value in sorted(values[kind] - fixed[kind]):
            new = generate_name(kind, value, rng)
            while new.lower() in taken:
                new = generate_name(kind, value, rng)
            taken.add(new.lower())
            mapping[value] = new
        maps[kind] = mapping
    return maps


def date_offset(seed: int, db_id: str) -> dt.timedelta:
    """One shift for every date of a database: 30 to 400 days, either way."""
    rng = seeded_rng(seed, db_id, "dates")
    return dt.timedelta(days=rng.randint(30, 400) * rng.choice((-1, 1)))


@dataclass(frozen=True)
class _Plan:
    """Everything the rewrite of one table needs, decided once per database."""

    perturbation: Perturbation
    keys: dict[str, set[str]]
    names: dict[str, dict[str, str]]
    offset: dt.timedelta | None
    pinned: set[str]


def _rewrite_table(db: Database, schema: TableSchema, plan: _Plan) -> list[list[Any]]:
    """The table's columns after the rewrite: keys in place, other values moved and renamed."""
    rows = db.rows(schema.name)
    order = list(range(len(rows)))
    if "rows" in plan.perturbation.kinds:
        seeded_rng(plan.perturbation.seed, db.db_id, "rows", schema.name).shuffle(order)
    columns: list[list[Any]] = []
    for j, col in enumerate(schema.columns):
        if col.name in plan.keys[schema.name]:
            columns.append([r[j] for r in rows])
            continue
        values = [rows[i][j] for i in order]
        mapping = plan.names.get(name_kind(col.name, col.type) or "")
        if mapping:
            values = [mapping.get(v, v) if isinstance(v, str) else v for v in values]
        if plan.offset is not None and col.type in ("DATE", "TIMESTAMP") and col.name.lower() not in plan.pinned:
            values = [v + plan.offset if isinstance(v, dt.date) else v for v in values]
        columns.append(values)
    return columns


def perturb_database(db: Database, perturbation: Perturbation, sqls: Iterable[str]) -> Database:
    """A new in-memory database with ``db``'s schemas, verbalizers and rewritten rows."""
    pins = collect_pins(sqls)
    keys = key_columns(db.schemas)
    kinds = set(perturbation.kinds)
    plan = _Plan(
        perturbation=perturbation,
        keys=keys,
        names=_name_maps(db, keys, pins, perturbation.seed) if "names" in kinds else {},
        offset=date_offset(perturbation.seed, db.db_id) if "dates" in kinds else None,
        pinned=pins.columns,
    )
    con = new_connection()
    for schema in db.schemas:
        columns = _rewrite_table(db, schema, plan)
        load_table(con, schema.name, [(c.name, c.type) for c in schema.columns], columns)
    lock_down(con)
    kinds_text = ", ".join(perturbation.kinds)
    out = Database(
        db.db_id, con, db.schemas, origin=f"{db.origin}, perturbed (seed {perturbation.seed}: {kinds_text})",
        notes=db.notes,
    )  # fmt: skip
    for table in db.tables:
        out.set_verbalizer(table, db.verbalizer(table))
    return out


class PerturbedSource(Source):
    """Another source's databases, each rewritten by one perturbation (the queries unchanged).

    The literals kept are those of the queries the source ships for a database, plus
    ``extra_sql`` (an ad-hoc query), so a suite and a re-materialisation rewrite alike.
    """

    def __init__(self, inner: Source, perturbation: Perturbation, extra_sql: Sequence[str] = ()) -> None:
        self.inner = inner
        self.perturbation = perturbation
        self.extra_sql = tuple(extra_sql)
        self.name = inner.name

    def list_databases(self) -> list[str]:
        return self.inner.list_databases()

    def open(self, db_id: str) -> Database:
        db = self.inner.open(db_id)
        sqls = [q.sql for q in self.inner.queries(db_id)] + list(self.extra_sql)
        return perturb_database(db, self.perturbation, sqls)

    def queries(self, db_id: str) -> list[Query]:
        return self.inner.queries(db_id)

    def describe(self) -> str:
        return f"{self.inner.describe()} (perturbed, seed {self.perturbation.seed})"

    def revision(self) -> str | None:
        return self.inner.revision()


def perturbed(source: Source, perturbation: Perturbation | None, extra_sql: Sequence[str] = ()) -> Source:
    """``source`` itself when there is no perturbation, else its perturbed view."""
    return source if perturbation is None else PerturbedSource(source, perturbation, extra_sql)


def materialise(db: Database, target: Path) -> None:
    """Write ``db`` as a SQLite file (declared column types kept, dates as ISO text as SQLite keeps
    them), through a temporary file, so gold can be re-verified on SQLite itself."""
    tmp = target.with_name(target.name + ".tmp")
    tmp.unlink(missing_ok=True)
    con = sqlite3.connect(tmp)
    try:
        for schema in db.schemas:
            cols = ", ".join(f'"{c.name}" {c.declared_type or c.type}' for c in schema.columns)
            con.execute(f'CREATE TABLE "{schema.name}" ({cols})')
            marks = ", ".join("?" for _ in schema.columns)
            rows = [tuple(_sqlite_value(v) for v in row) for row in db.rows(schema.name)]
            con.executemany(f'INSERT INTO "{schema.name}" VALUES ({marks})', rows)
        con.commit()
    except BaseException:
        con.close()
        tmp.unlink(missing_ok=True)
        raise
    con.close()
    tmp.replace(target)


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def check_version(perturbation: Perturbation, where: str) -> None:
    """Refuse a perturbation this holobench would not rewrite the same way."""
    if perturbation.version != PERTURB_VERSION:
        raise HoloBenchError(
            f"{where}: perturbation version {perturbation.version} is not this holobench's "
            f"({PERTURB_VERSION}); use the holobench that generated it to rebuild the database"
        )
