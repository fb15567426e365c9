"""Sources and databases opened once per test module."""

from __future__ import annotations

import pytest

from holobench.sources import (
    BundledSource,
    Database,
    HubSource,
    SpiderSource,
    open_source,
)

from .helpers import (
    BUNDLED_IDS,
    HUB,
    SPIDER,
)


@pytest.fixture(scope="module")
def bundled_source() -> BundledSource:
    source = open_source("bundled")
    assert isinstance(source, BundledSource)
    return source


@pytest.fixture(scope="module")
def bundled_databases(bundled_source: BundledSource) -> dict[str, Database]:
    return {db_id: bundled_source.open(db_id) for db_id in BUNDLED_IDS}


@pytest.fixture(scope="module")
def spider_source() -> SpiderSource:
    if not (SPIDER / "database").is_dir():
        pytest.skip(f"{SPIDER} is absent: the real Spider databases are not available here")
    source = open_source(f"spider:{SPIDER}")
    assert isinstance(source, SpiderSource)
    return source


@pytest.fixture(scope="module")
def spider_databases(spider_source: SpiderSource) -> dict[str, Database]:
    return {}


@pytest.fixture(scope="module")
def hub_source() -> HubSource:
    source = open_source(f"hub:{HUB}")
    assert isinstance(source, HubSource)
    return source


@pytest.fixture(scope="module")
def hub_db(hub_source: HubSource) -> Database:
    return hub_source.open("wine_mini")
