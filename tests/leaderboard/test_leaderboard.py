"""The static leaderboard: built from packed submissions, then opened in headless Chromium."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from holobench.errors import HoloBenchError
from holobench.leaderboard import build
from holobench.scoring.score import score_match
from holobench.submit import pack

from ..scoring_helpers import write_run

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


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


def _headless(browser: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


class _Rows(HTMLParser):
    """The ranking table's rows as the browser left them: [(rank, model, score)]."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict[str, str]] = []
        self.sorted: str | None = None
        self._in_body = False
        self._key: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table" and a.get("id") == "ranking":
            self.sorted = a.get("data-sorted")
        if tag == "tbody":
            self._in_body = True
        if tag == "tr" and self._in_body:
            self.rows.append({})
        if tag == "td" and self._in_body and self.rows:
            self.rows[-1][a.get("data-key") or ""] = a.get("data-value") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "tbody":
            self._in_body = False


@pytest.fixture(scope="module")
def submissions(tmp_path_factory: pytest.TempPathFactory, smoke_file: Path) -> list[Path]:
    root = tmp_path_factory.mktemp("subs")
    out = []
    for model, quality, suffix in [("weak <model>", 2, ".zip"), ("strong-model", 4, ".tar.gz"), ("middle", 3, "")]:
        run = write_run(root, smoke_file, model=model, quality=quality)
        score_match(smoke_file, run)
        out.append(pack(run, run / "scores" / "match", root / f"{quality}{suffix or '-dir'}", suite="smoke"))
    return out


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, submissions: list[Path], smoke_file: Path) -> Path:
    out = tmp_path_factory.mktemp("site") / "site"
    build(submissions, out, instances=smoke_file)
    return out


def test_site_ranks_entries_by_score(site: Path) -> None:
    board = json.loads((site / "leaderboard.json").read_text(encoding="utf-8"))
    scores = [e["score"] for e in board["entries"]]
    assert scores == sorted(scores, reverse=True)
    assert [e["rank"] for e in board["entries"]] == [1, 2, 3]
    for e in board["entries"]:
        assert (site / e["page"]).is_file()
        low, high = (float(x) for x in e["ci"].split(", "))
        assert low <= e["score"] <= high
    html = (site / "index.html").read_text(encoding="utf-8")
    assert "weak &lt;model&gt;" in html and "weak <model>" not in html  # submissions are escaped
    assert (site / "plots" / "score_by_placement.png").is_file()


def test_build_refuses_mixed_suites_and_invalid_submissions(tmp_path: Path, submissions: list[Path]) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(submissions[2], broken)
    (broken / "scores.jsonl").write_text("{not json\n", encoding="utf-8")
    with pytest.raises(HoloBenchError, match=r"scores\.jsonl"):
        build([submissions[0], broken], tmp_path / "site")
    assert not (tmp_path / "site").exists()
    other = tmp_path / "other"
    shutil.copytree(submissions[2], other)
    manifest = json.loads((other / "manifest.json").read_text(encoding="utf-8"))
    manifest["instances_sha256"] = "0" * 64
    (other / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(HoloBenchError, match="another suite"):
        build([submissions[0], other], tmp_path / "site")


def test_leaderboard_renders_and_sorts_in_chromium(site: Path, chromium: str) -> None:
    index = (site / "index.html").resolve()
    parser = _Rows()
    parser.feed(_headless(chromium, "--dump-dom", index.as_uri()).stdout)
    assert parser.sorted == "rank:asc"
    assert [r["rank"] for r in parser.rows] == ["1", "2", "3"]
    assert parser.rows[0]["model"] == "strong-model"
    assert all(re.fullmatch(r"[01](\.\d+)?", r["score"]) for r in parser.rows)

    parser = _Rows()
    parser.feed(_headless(chromium, "--dump-dom", index.as_uri() + "?sort=model&dir=asc").stdout)
    assert parser.sorted == "model:asc"
    assert [r["model"] for r in parser.rows] == sorted(r["model"] for r in parser.rows)

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "leaderboard.png"
    shot.unlink(missing_ok=True)
    _headless(chromium, f"--screenshot={shot}", "--window-size=1400,900", index.as_uri())
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
