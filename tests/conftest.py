"""Shared fixtures: the bundled databases (opened once) and the real Spider files when present."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from holobench.sources import BundledSource, Database, SpiderSource
from holobench.testing.fake_server import FakeOpenAIServer

if TYPE_CHECKING:
    from holobench.context import InstanceBuilder

ROOT = Path(__file__).resolve().parents[1]
SPIDER = ROOT.parent / "shared" / "spider"
BUNDLED_IDS = ("baseball", "nycflights", "store_1")


@pytest.fixture(autouse=True)
def _own_cache_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test gets its own on-disk caches (token counts): no test sees another's."""
    monkeypatch.setenv("HOLOBENCH_CACHE_DIR", str(tmp_path_factory.mktemp("holobench-cache")))


@pytest.fixture(scope="session")
def bundled() -> BundledSource:
    return BundledSource()


@pytest.fixture(scope="session")
def bundled_dbs(bundled: BundledSource) -> dict[str, Database]:
    return {db_id: bundled.open(db_id) for db_id in bundled.list_databases()}


@pytest.fixture(scope="session")
def spider() -> SpiderSource:
    if not (SPIDER / "database").is_dir():
        pytest.skip("../shared/spider is absent: the real Spider databases are not available here")
    return SpiderSource(SPIDER)


@pytest.fixture(scope="module")
def builders(bundled_dbs: dict[str, Database]) -> dict[str, InstanceBuilder]:
    """One instance builder per bundled database, the others as its fillers (o200k_base)."""
    from holobench.context import InstanceBuilder
    from holobench.tokenizers import get_tokenizer

    tokenizer = get_tokenizer("o200k_base")
    return {
        db_id: InstanceBuilder(db, tokenizer, fillers=[d for k, d in bundled_dbs.items() if k != db_id])
        for db_id, db in bundled_dbs.items()
    }


@pytest.fixture(scope="session")
def smoke_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled smoke suite, generated once per test session."""
    from holobench.suite import generate_suite, load_suite

    out = tmp_path_factory.mktemp("smoke-suite")
    generate_suite(load_suite("smoke"), out)
    return out / "instances.jsonl"


@pytest.fixture()
def server() -> Iterator[FakeOpenAIServer]:
    """A loopback OpenAI-compatible server for one test (a module may define its own ``server``)."""
    srv = FakeOpenAIServer().start()
    yield srv
    srv.stop()
