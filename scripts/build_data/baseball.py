"""baseball: MLB seasons 2015-2020 from the Baseball Databank 2021.2 zip inside ``lahman``.

Six seasons keep the database small. Players are those who batted, pitched or won an award in
those seasons, plus every player ever inducted into the Hall of Fame; franchises and parks are
those the seasons' teams name.
"""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pandas as pd

from .common import Column, Table, TableSpec, as_int, build_tables, frame_records, package_dir

FIRST_SEASON, LAST_SEASON = 2015, 2020

PLAYER_FK = (("player_id", "players", "player_id"),)


def birth_date(year: Any, month: Any, day: Any) -> str | None:
    """The source splits the date in three columns; a date missing any part is unknown."""
    y, m, d = as_int(year), as_int(month), as_int(day)
    if y is None or m is None or d is None:
        return None
    return f"{y:04d}-{m:02d}-{d:02d}"


TABLES = (
    TableSpec(
        "franchises",
        "TeamsFranchises",
        (
            Column("franchID", "franchise_id", "TEXT"),
            Column("franchName", "name", "TEXT"),
            Column("active", "active", "TEXT"),
        ),
        ("franchise_id",),
    ),
    TableSpec(
        "parks",
        "Parks",
        (
            Column("park.key", "park_key", "TEXT"),
            Column("park.name", "name", "TEXT"),
            Column("city", "city", "TEXT"),
            Column("state", "state", "TEXT"),
            Column("country", "country", "TEXT"),
        ),
        ("park_key",),
    ),
    TableSpec(
        "teams",
        "Teams",
        (
            Column("yearID", "year", "INTEGER", as_int),
            Column("teamID", "team_id", "TEXT"),
            Column("franchID", "franchise_id", "TEXT"),
            Column("lgID", "league", "TEXT"),
            Column("divID", "division", "TEXT"),
            Column("name", "name", "TEXT"),
            Column("park", "park", "TEXT"),
            Column("Rank", "division_rank", "INTEGER", as_int),
            Column("G", "games", "INTEGER", as_int),
            Column("W", "wins", "INTEGER", as_int),
            Column("L", "losses", "INTEGER", as_int),
            Column("R", "runs", "INTEGER", as_int),
            Column("RA", "runs_allowed", "INTEGER", as_int),
            Column("HR", "home_runs", "INTEGER", as_int),
            Column("ERA", "era", "REAL"),
            Column("attendance", "attendance", "INTEGER", as_int),
        ),
        ("year", "team_id"),
        (("franchise_id", "franchises", "franchise_id"),),
    ),
    TableSpec(
        "players",
        "People",
        (
            Column("playerID", "player_id", "TEXT"),
            Column("nameFirst", "first_name", "TEXT"),
            Column("nameLast", "last_name", "TEXT"),
            Column(("birthYear", "birthMonth", "birthDay"), "birth_date", "DATE", birth_date),
            Column("birthCountry", "birth_country", "TEXT"),
            Column("birthCity", "birth_city", "TEXT"),
            Column("weight", "weight", "INTEGER", as_int),
            Column("height", "height", "INTEGER", as_int),
            Column("bats", "bats", "TEXT"),
            Column("throws", "throws", "TEXT"),
            Column("debut", "debut", "DATE"),
            Column("finalGame", "final_game", "DATE"),
        ),
        ("player_id",),
    ),
    TableSpec(
        "batting",
        "Batting",
        (
            Column("playerID", "player_id", "TEXT"),
            Column("yearID", "year", "INTEGER", as_int),
            Column("stint", "stint", "INTEGER", as_int),
            Column("teamID", "team_id", "TEXT"),
            Column("G", "games", "INTEGER", as_int),
            Column("AB", "at_bats", "INTEGER", as_int),
            Column("R", "runs", "INTEGER", as_int),
            Column("H", "hits", "INTEGER", as_int),
            Column("HR", "home_runs", "INTEGER", as_int),
            Column("RBI", "rbi", "INTEGER", as_int),
            Column("SB", "stolen_bases", "INTEGER", as_int),
            Column("BB", "walks", "INTEGER", as_int),
            Column("SO", "strikeouts", "INTEGER", as_int),
        ),
        ("player_id", "year", "stint"),
        PLAYER_FK,
    ),
    TableSpec(
        "pitching",
        "Pitching",
        (
            Column("playerID", "player_id", "TEXT"),
            Column("yearID", "year", "INTEGER", as_int),
            Column("stint", "stint", "INTEGER", as_int),
            Column("teamID", "team_id", "TEXT"),
            Column("W", "wins", "INTEGER", as_int),
            Column("L", "losses", "INTEGER", as_int),
            Column("G", "games", "INTEGER", as_int),
            Column("GS", "games_started", "INTEGER", as_int),
            Column("SV", "saves", "INTEGER", as_int),
            Column("IPouts", "outs_pitched", "INTEGER", as_int),
            Column("ER", "earned_runs", "INTEGER", as_int),
            Column("SO", "strikeouts", "INTEGER", as_int),
            Column("BB", "walks", "INTEGER", as_int),
            Column("ERA", "era", "REAL"),
        ),
        ("player_id", "year", "stint"),
        PLAYER_FK,
    ),
    TableSpec(
        "salaries",
        "Salaries",
        (
            Column("yearID", "year", "INTEGER", as_int),
            Column("teamID", "team_id", "TEXT"),
            Column("lgID", "league", "TEXT"),
            Column("playerID", "player_id", "TEXT"),
            Column("salary", "salary", "INTEGER", as_int),
        ),
        ("year", "team_id", "player_id"),
        PLAYER_FK,
    ),
    TableSpec(
        "awards",
        "AwardsPlayers",
        (
            Column("playerID", "player_id", "TEXT"),
            Column("awardID", "award", "TEXT"),
            Column("yearID", "year", "INTEGER", as_int),
            Column("lgID", "league", "TEXT"),
            Column("tie", "tie", "TEXT"),
        ),
        (),
        PLAYER_FK,
    ),
    TableSpec(
        "hall_of_fame",
        "HallOfFame",
        (
            Column("playerID", "player_id", "TEXT"),
            Column("yearID", "year", "INTEGER", as_int),
            Column("votedBy", "voted_by", "TEXT"),
            Column("ballots", "ballots", "INTEGER", as_int),
            Column("needed", "votes_needed", "INTEGER", as_int),
            Column("votes", "votes", "INTEGER", as_int),
        ),
        ("player_id",),
        PLAYER_FK,
    ),
)


def read_core(names: list[str]) -> dict[str, pd.DataFrame]:
    """The ``core/<name>.csv`` files of the Databank zip, read without unpacking it."""
    src = package_dir("lahman") / "data" / "_source.zip"
    with zipfile.ZipFile(src) as z:
        members = z.namelist()

        def csv(name: str) -> pd.DataFrame:
            member = next(n for n in members if n.endswith(f"/core/{name}.csv"))
            return pd.read_csv(io.BytesIO(z.read(member)), keep_default_na=True, na_values=[""])

        return {name: csv(name) for name in names}


def seasons(df: pd.DataFrame) -> pd.DataFrame:
    """Rows of the chosen seasons, renumbered so the kept order is the source's order."""
    return df[(df["yearID"] >= FIRST_SEASON) & (df["yearID"] <= LAST_SEASON)].reset_index(drop=True)


def load() -> dict[str, pd.DataFrame]:
    """The source tables cut to the chosen seasons and to the rows those seasons refer to."""
    f = read_core([spec.source for spec in TABLES])
    for name in ("Teams", "Batting", "Pitching", "Salaries", "AwardsPlayers"):
        f[name] = seasons(f[name])
    hof = f["HallOfFame"]
    f["HallOfFame"] = hof[(hof["inducted"] == "Y") & (hof["category"] == "Player")].reset_index(drop=True)
    wanted: set[str] = set()
    for name in ("Batting", "Pitching", "HallOfFame", "AwardsPlayers"):
        wanted |= set(f[name]["playerID"])
    f["People"] = f["People"][f["People"]["playerID"].isin(wanted)].reset_index(drop=True)
    franchises = f["TeamsFranchises"]
    f["TeamsFranchises"] = franchises[franchises["franchID"].isin(set(f["Teams"]["franchID"]))].reset_index(drop=True)
    parks = f["Parks"]
    f["Parks"] = parks[parks["park.name"].isin(set(f["Teams"]["park"].dropna()))].reset_index(drop=True)
    return f


def build() -> list[Table]:
    """Declaration order is creation order; a table comes after the tables it refers to."""
    return build_tables(TABLES, {name: frame_records(frame) for name, frame in load().items()})
