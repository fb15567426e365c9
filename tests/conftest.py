"""Shared fixtures: the bundled databases (opened once) and the real Spider files when present."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from holobench.sources import BundledSource, Database, SpiderSource
from holobench.testing.fake_server import FakeOpenAIServer

if TYPE_CHECKING:
    from holobench.context import InstanceBuilder

ROOT = Path(__file__).resolve().parents[1]
SPIDER = ROOT.parent / "shared" / "spider"
#: Screenshots the browser tests leave for a person to look at.
ARTIFACTS = ROOT / "test-artifacts"
T = TypeVar("T")
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
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


def _find_browser() -> str | None:
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium; installed with apt-get when missing and this user may, else skipped."""
    found = _find_browser()
    if found is None and shutil.which("apt-get") and os.geteuid() == 0:
        try:
            env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            subprocess.run(["apt-get", "update", "-qq"], check=True, capture_output=True, timeout=600, env=env)
            subprocess.run(
                ["apt-get", "install", "-y", "-qq", "chromium"], check=True, capture_output=True, timeout=900, env=env
            )
        except (subprocess.SubprocessError, OSError) as exc:
            pytest.skip(f"chromium is not installed and apt-get could not install it ({type(exc).__name__})")
        found = _find_browser()
    if found is None:
        pytest.skip("chromium is not installed (apt-get install chromium) and cannot be installed here")
    return found


def browse(chromium: str, steps: Callable[[Any], Awaitable[T]], *, width: int = 1400, height: int = 900) -> T:
    """Run ``steps(page)`` in a fresh headless Chromium driven by playwright (clicks, typing and
    the page's own state, which ``--dump-dom`` cannot reach), and fail on any script error.

    The async API in its own event loop, one browser per call: playwright's sync API would leave
    an event loop running in the test thread, and every later ``asyncio.run`` would refuse to start."""
    api = pytest.importorskip("playwright.async_api")

    async def go() -> T:
        errors: list[str] = []
        async with api.async_playwright() as pw:
            browser = await pw.chromium.launch(
                executable_path=chromium, args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"]
            )
            try:
                page = await browser.new_page(viewport={"width": width, "height": height})
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                result = await steps(page)
            finally:
                await browser.close()
        assert errors == [], errors
        return result

    return asyncio.run(go())
