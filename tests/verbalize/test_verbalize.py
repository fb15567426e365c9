"""Verbalization: filters, templates, the generic fallback, and faithfulness on every bundled row."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from holobench.errors import TemplateError
from holobench.records import Column, TableSchema
from holobench.sources import Database, SpiderSource
from holobench.verbalize import GenericVerbalizer, TableTemplate, check_database, check_sentence, value_present
from holobench.verbalize.filters import date, datetime, money, num

from ..conftest import BUNDLED_IDS


@pytest.mark.parametrize("db_id", BUNDLED_IDS)
def test_every_bundled_row_is_verbalized_faithfully(bundled_dbs: dict[str, Database], db_id: str) -> None:
    db = bundled_dbs[db_id]
    report = check_database(db)
    assert report.ok, [str(m) for m in report.missing[:10]]
    assert report.total_rows == sum(db.row_count(t) for t in db.tables)
    assert all(v.startswith("template:") for v in report.verbalizers.values())
    for table in db.tables:
        sentences = db.sentences(table)
        assert all("\n" not in s and s.strip() == s and s for s in sentences)


def test_spider_databases_pass_with_the_generic_verbalizer(spider: SpiderSource) -> None:
    for db_id in spider.list_databases():
        report = check_database(spider.open(db_id))
        assert report.ok, [str(m) for m in report.missing[:5]]
        assert set(report.verbalizers.values()) == {"generic"}


def test_the_check_catches_a_dropped_value() -> None:
    row = {"id": 7, "name": "Giana", "price": 35.5, "made": dt.date(2008, 1, 2)}
    good = "Wine 7, Giana, costs $35.50 and was made on January 2, 2008."
    assert check_sentence("wine", 0, row, good) == []
    missing = check_sentence("wine", 0, row, "Wine 7, Giana, costs $35.50.")
    assert [m.column for m in missing] == ["made"]
    assert "wine row 0" in str(missing[0]) and "made" in str(missing[0])
    assert [m.column for m in check_sentence("wine", 0, row, good.replace("35.50", "36.50"))] == ["price"]
    assert check_sentence("wine", 0, row, good.replace(" and", "\nand"))[0].column == "<sentence>"


def test_numbers_are_matched_as_whole_numbers() -> None:
    assert not value_present(2, "In 2008 it sold.")
    assert value_present(2008, "In 2008 it sold.")
    assert value_present(1234567, "It sold 1,234,567 bottles.")
    assert value_present(-3, "The delay was -3 minutes.")
    assert not value_present(3.5, "It cost 35 dollars.")
    assert value_present("Y", "Active: yes.")
    assert not value_present("Y", "Active: no.")


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_num_filter_round_trips_integers(value: int) -> None:
    assert value_present(value, f"The count is {num(value)}.")


@given(st.floats(min_value=-1e9, max_value=1e9, allow_nan=False).filter(lambda f: abs(f) > 1e-6 or f == 0))
def test_num_filter_round_trips_floats(value: float) -> None:
    assert value_present(value, f"The value is {num(value)} units.")


@given(st.decimals(min_value=0, max_value=100000, places=2).map(float))
def test_money_filter_round_trips_two_decimal_amounts(value: float) -> None:
    assert value_present(value, f"It costs {money(value)}.")


@given(
    st.datetimes(min_value=dt.datetime(1800, 1, 1), max_value=dt.datetime(2100, 1, 1)).map(
        lambda d: d.replace(second=0, microsecond=0)
    )
)
def test_date_filters_round_trip(value: dt.datetime) -> None:
    assert value_present(value.date(), f"It happened on {date(value)}.")
    assert value_present(value, f"It happened on {datetime(value)}.")
    assert value_present(value.isoformat(sep=" "), f"It happened on {datetime(value)}.")


def test_template_errors_name_the_file_and_problem(tmp_path: Path) -> None:
    unknown = tmp_path / "wine.j2"
    unknown.write_text("Wine {{ Nmae }} costs {{ Price }}.", encoding="utf-8")
    with pytest.raises(TemplateError, match=r"wine\.j2.*unknown column\(s\) Nmae"):
        TableTemplate(unknown, "wine", ["Name", "Price"])
    broken = tmp_path / "grapes.j2"
    broken.write_text("Grape {{ Grape ", encoding="utf-8")
    with pytest.raises(TemplateError, match="syntax error"):
        TableTemplate(broken, "grapes", ["Grape"])


@pytest.mark.parametrize(
    "body",
    [
        "{{ cycler.__init__.__globals__.os.popen('touch PWNED').read() }}",
        "{{ Name.__class__.__mro__[1].__subclasses__() }}",
        "{% set x = row.update({'Name': 'changed'}) %}{{ Name }}",
    ],
)
def test_templates_are_sandboxed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str) -> None:
    """A --templates file can format values, never run code or change the row."""
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "wine.j2"
    path.write_text(body, encoding="utf-8")
    tpl = TableTemplate(path, "wine", ["Name"])
    with pytest.raises(TemplateError, match=r"wine\.j2: the template tries an unsafe operation"):
        tpl.render({"Name": "Giana"})
    assert not (tmp_path / "PWNED").exists()


def test_template_output_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "wine.j2"
    path.write_text(
        "Wine {{ Name }}\n{% if Price is not none %}costs {{ Price | money }}{% endif %}\n.", encoding="utf-8"
    )
    tpl = TableTemplate(path, "wine", ["Name", "Price"])
    assert tpl.render({"Name": "Giana", "Price": 35}) == "Wine Giana costs $35.00."
    assert tpl.render({"Name": "Giana", "Price": None}) == "Wine Giana ."


def test_generic_verbalizer_mentions_every_column() -> None:
    schema = TableSchema(
        name="appellations",
        columns=(
            Column(name="No", type="BIGINT"),
            Column(name="isAVA", type="VARCHAR"),
            Column(name="Area", type="VARCHAR"),
        ),
    )
    sentence = GenericVerbalizer(schema).sentence({"No": 3, "isAVA": "Yes", "Area": None})
    assert sentence == "Appellation record: no is 3, is ava is Yes, and area is not recorded."
