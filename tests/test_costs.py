"""The report's token and cost table: from real batch runs against the loopback batch server,
with prompt-cache reads, the batch price, response-cache hits and an unpriced model."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pandas as pd
import pytest

from holobench.backends import BackendOptions, SamplingParams
from holobench.journal import Journal
from holobench.report import write_report
from holobench.runner import RunConfig, Runner
from holobench.scoring.score import score_match
from holobench.testing.fake_batch_server import FakeBatchServer

PRICES = "priced: {input_per_million: 2.0, output_per_million: 8.0, cached_input_per_million: 0.5}\n"


def batch_run(server: FakeBatchServer, instances: Path, out: Path, tmp_path: Path, model: str) -> Path:
    prices = tmp_path / "prices.yaml"
    prices.write_text(PRICES, encoding="utf-8")
    options = BackendOptions(model=model, base_url=server.root + "/v1", options={"poll_interval": "0"})
    cfg = RunConfig(backend="openai-batch", options=options, sampling=SamplingParams(max_tokens=64),
                    cache_dir=tmp_path / "cache", prices=prices)  # fmt: skip
    asyncio.run(Runner(instances, out, cfg).run())
    score_match(instances, out)
    return out


def test_the_report_shows_cached_tokens_and_batch_cost_per_run(smoke_file: Path, tmp_path: Path) -> None:
    pytest.importorskip("anthropic")
    server = FakeBatchServer().start()
    try:
        server.state.cached = lambda prompt: 256
        paid = batch_run(server, smoke_file, tmp_path / "paid", tmp_path, "priced")
        again = batch_run(server, smoke_file, tmp_path / "again", tmp_path, "priced")  # all from the response cache
        unpriced = batch_run(server, smoke_file, tmp_path / "unpriced", tmp_path, "unpriced")
    finally:
        server.stop()
    summary = write_report([paid, again, unpriced], tmp_path / "report", n_boot=200, position=False)
    table = pd.read_csv(tmp_path / "report" / "tables" / "cost.csv")
    records = Journal(paid / "predictions.jsonl").load(repair=False).values()
    row = table.iloc[0]
    assert row["answered"] == len(records) and row["from_response_cache"] == 0
    assert row["prompt_tokens"] == sum(p.usage.prompt_tokens for p in records)
    assert row["cached_prompt_tokens"] == sum(p.usage.cached_prompt_tokens for p in records) > 0
    fresh = row["prompt_tokens"] - row["cached_prompt_tokens"]
    full = (fresh * 2.0 + row["cached_prompt_tokens"] * 0.5 + row["completion_tokens"] * 8.0) / 1e6
    assert row["cost_usd"] == pytest.approx(full / 2, abs=1e-6)  # the batch price
    cached_run = table.iloc[1]
    assert cached_run["from_response_cache"] == len(records) and cached_run["prompt_tokens"] == 0
    assert cached_run["cost_usd"] == 0
    assert pd.isna(table.iloc[2]["cost_usd"])  # no price known: no total, rather than a wrong one
    assert [r["model"] for r in summary["cost"]] == list(table["model"])
    markdown = (tmp_path / "report" / "report.md").read_text(encoding="utf-8")
    assert "## Tokens and cost" in markdown and "cached_prompt_tokens" in markdown
