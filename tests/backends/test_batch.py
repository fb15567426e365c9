"""The openai-batch and anthropic-batch backends, through their official SDKs and the runner,
against a loopback server implementing OpenAI Files + Batches and Anthropic Message Batches:
splitting within limits, expired, failed and partially failed batches (retried on rerun, never
scored), a crash while a batch is pending (resumed by polling, not resubmitting), batch and
cached-token pricing, and no key in any file or error."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from holobench.backends import BackendOptions, SamplingParams
from holobench.backends.base import ChatMessage, ChatRequest
from holobench.backends.client import Client, Outcome, Price, PriceTable
from holobench.batches import BATCHES_FILE, BatchJournal
from holobench.journal import Journal
from holobench.records import Prediction
from holobench.runner import RunConfig, Runner
from holobench.testing.fake_batch_server import BatchServerState, FakeBatchServer
from holobench.testing.fake_server import answer_for

pytest.importorskip("anthropic")

SECRET = "sk-holobench-batch-SECRET-31337"
PROVIDERS = {"openai-batch": "openai", "anthropic-batch": "anthropic"}
PRICES = "fake-model: {input_per_million: 2.0, output_per_million: 8.0, cached_input_per_million: 0.5}\n"


@pytest.fixture()
def batch_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeBatchServer]:
    monkeypatch.setenv("HB_BATCH_KEY", SECRET)
    server = FakeBatchServer(BatchServerState(key=SECRET)).start()
    yield server
    server.stop()


def base_url(server: FakeBatchServer, backend: str) -> str:
    return server.root + "/v1" if backend == "openai-batch" else server.root


def config(server: FakeBatchServer, tmp_path: Path, backend: str, **options: str) -> RunConfig:
    prices = tmp_path / "prices.yaml"
    prices.write_text(PRICES, encoding="utf-8")
    opts = {"poll_interval": "0", "max_requests": "7", **options}
    return RunConfig(
        backend=backend,
        options=BackendOptions(
            model="fake-model", base_url=base_url(server, backend), api_key_env="HB_BATCH_KEY", options=opts
        ),
        sampling=SamplingParams(max_tokens=64),
        cache_dir=None,
        prices=prices,
        max_retries=0,
    )


def run(instances: Path, out: Path, cfg: RunConfig) -> dict[str, object]:
    return asyncio.run(Runner(instances, out, cfg).run())


def journal(out: Path) -> dict[str, Prediction]:
    return Journal(out / "predictions.jsonl").load(repair=False)


def prompts(instances: Path) -> dict[str, str]:
    from holobench.prompts import render_prompt

    rows = [json.loads(x) for x in instances.read_text(encoding="utf-8").splitlines()]
    return {r["id"]: render_prompt("cot", r["context"], r["question"]) for r in rows}


def no_secret_anywhere(root: Path) -> None:
    for path in root.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


@pytest.mark.parametrize("backend", PROVIDERS)
def test_a_run_goes_out_in_batches_within_the_limits_and_costs_the_batch_price(
    smoke_file: Path, batch_server: FakeBatchServer, tmp_path: Path, backend: str
) -> None:
    state = batch_server.state
    state.polls = 2  # each batch is in progress for two polls first
    state.cached = lambda prompt: 1024
    cfg = config(batch_server, tmp_path, backend).model_copy(update={"cache_dir": tmp_path / "cache"})
    summary = run(smoke_file, tmp_path / "r", cfg)
    records, asked = journal(tmp_path / "r"), prompts(smoke_file)
    assert set(records) == set(asked) and summary["this_run"] == {"ok": len(asked), "error": 0, "skipped": 0}
    for iid, p in records.items():
        assert p.status == "ok" and p.response == answer_for(asked[iid]) and p.backend == backend
        assert p.usage.cached_prompt_tokens == min(1024, p.usage.prompt_tokens)
        fresh = p.usage.prompt_tokens - p.usage.cached_prompt_tokens
        full = (fresh * 2.0 + p.usage.cached_prompt_tokens * 0.5 + p.usage.completion_tokens * 8.0) / 1e6
        assert p.cost_usd == pytest.approx(full / 2)  # the batch discount, cache reads at their rate
    created = state.created(PROVIDERS[backend])
    assert len(created) == -(-len(asked) // 7) and all(len(state.entries[b]) <= 7 for b in created)
    assert sorted(iid for b in BatchJournal(tmp_path / "r" / BATCHES_FILE).load().values() for iid in b.ids) == sorted(
        asked
    )
    assert {b.status for b in BatchJournal(tmp_path / "r" / BATCHES_FILE).load().values()} == {"collected"}
    client = summary["client"]
    assert isinstance(client, dict) and client["cached_prompt_tokens"] == sum(
        p.usage.cached_prompt_tokens for p in records.values()
    )
    assert list((tmp_path / "cache").iterdir())  # the response cache was written ...
    no_secret_anywhere(tmp_path)  # ... and no file holds the key, nor any uploaded batch file
    assert state.files or backend == "anthropic-batch"
    assert all(SECRET.encode() not in data for data in state.files.values())
    assert all(SECRET not in json.dumps(entries) for entries in state.entries.values())


@pytest.mark.parametrize("backend", PROVIDERS)
def test_batches_split_by_bytes_and_an_oversized_request_fails_alone(
    smoke_file: Path, batch_server: FakeBatchServer, tmp_path: Path, backend: str
) -> None:
    sizes = sorted(len(p.encode()) for p in prompts(smoke_file).values())
    limit = sizes[-1] + 400  # every request but none with another of the longest
    run(smoke_file, tmp_path / "b", config(batch_server, tmp_path, backend, max_requests="1000", max_bytes=str(limit)))
    state = batch_server.state
    created = state.created(PROVIDERS[backend])
    assert len(created) >= 2
    for bid in created:
        assert sum(len(json.dumps(e).encode()) + 1 for e in state.entries[bid]) <= limit + 200 * len(state.entries[bid])
    assert all(p.status == "ok" for p in journal(tmp_path / "b").values())
    small = config(batch_server, tmp_path, backend, max_requests="1000", max_bytes=str(sizes[0] // 2))
    run(smoke_file, tmp_path / "tiny", small)
    assert {(p.status, (p.error or "").split(":")[0]) for p in journal(tmp_path / "tiny").values()} == {
        ("error", "batch_limit")
    }
    assert len(state.created(PROVIDERS[backend])) == len(created)  # nothing was sent


@pytest.mark.parametrize("backend", PROVIDERS)
@pytest.mark.parametrize("outcome", ["expired", "failed", "partial", "cancelled"])
def test_requests_a_batch_did_not_answer_fail_and_are_retried_on_rerun(
    smoke_file: Path, batch_server: FakeBatchServer, tmp_path: Path, backend: str, outcome: str
) -> None:
    state = batch_server.state
    state.outcome = lambda n: "completed" if outcome == "partial" or n > 0 else outcome
    bad = sorted(prompts(smoke_file).values())[::3]
    state.fails = lambda prompt: outcome == "partial" and prompt in bad
    cfg = config(batch_server, tmp_path, backend, max_requests="1000")
    summary = run(smoke_file, tmp_path / "x", cfg)
    first = journal(tmp_path / "x")
    failed = {i for i, p in first.items() if p.status == "error"}
    assert failed and all(p.response is None and p.cost_usd is None for i, p in first.items() if i in failed)
    reasons = {first[i].error or "" for i in failed}
    if outcome == "partial":
        assert len(failed) == len(bad) and all("400" in r and "max_tokens" in r for r in reasons)
    elif outcome == "failed" and backend == "openai-batch":
        assert all("batch_1 failed (line 1: model not supported)" in r and "rerun" in r for r in reasons)
    elif outcome == "failed":
        assert all("400" in r and "model not supported" in r for r in reasons)  # refused at creation
    else:
        assert all(f" {outcome}" in r and "not run; rerun" in r for r in reasons)
        assert 0 < len(failed) <= len(first) if outcome == "expired" else len(failed) == len(first)
    assert summary["this_run"]["error"] == len(failed)  # type: ignore[index]
    state.fails = lambda prompt: False
    before = len(state.created(PROVIDERS[backend]))
    run(smoke_file, tmp_path / "x", cfg)
    new = state.created(PROVIDERS[backend])[before:]
    assert len(new) == 1 and len(state.entries[new[0]]) == len(failed)  # only the failures again
    final = journal(tmp_path / "x")
    assert all(p.status == "ok" for p in final.values()) and set(final) == set(first)
    no_secret_anywhere(tmp_path)


@pytest.mark.parametrize("backend", PROVIDERS)
def test_kill_minus_nine_while_a_batch_is_pending_resumes_by_polling_it(
    smoke_file: Path, batch_server: FakeBatchServer, tmp_path: Path, backend: str
) -> None:
    state = batch_server.state
    state.polls = 10**9  # pending until the test says otherwise
    out = tmp_path / "k"
    args = [
        sys.executable, "-m", "holobench.cli", "run", "--instances", str(smoke_file), "--backend", backend,
        "--model", "fake-model", "--base-url", base_url(batch_server, backend), "--api-key-env", "HB_BATCH_KEY",
        "--option", "poll_interval=0.05", "--option", "max_requests=10", "--no-cache", "-o", str(out),
    ]  # fmt: skip
    proc = subprocess.Popen(args, env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    n = len(prompts(smoke_file))
    deadline = time.monotonic() + 120
    journaled: dict[str, object] = {}
    while time.monotonic() < deadline and proc.poll() is None:
        journaled = dict(BatchJournal(out / BATCHES_FILE).load()) if (out / BATCHES_FILE).exists() else {}
        polled = [m for m, p in state.seen if m == "GET" and "batches/" in p]
        if len(journaled) == -(-n // 10) and len(polled) > 3:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert len(journaled) == -(-n // 10) and not journal(out)  # every batch submitted, none answered
    created = list(state.created(PROVIDERS[backend]))
    state.polls = 0  # the batches end
    cfg = config(batch_server, tmp_path, backend, max_requests="10")
    summary = run(smoke_file, out, cfg.model_copy(update={"prices": None, "sampling": SamplingParams()}))
    assert state.created(PROVIDERS[backend]) == created  # polled, not resubmitted
    assert summary["this_run"]["ok"] == n and all(p.status == "ok" for p in journal(out).values())  # type: ignore[index]
    assert {b.status for b in BatchJournal(out / BATCHES_FILE).load().values()} == {"collected"}
    no_secret_anywhere(tmp_path)


@pytest.mark.parametrize("backend", PROVIDERS)
def test_a_wrong_key_fails_without_showing_it_and_generate_sends_one_request(
    batch_server: FakeBatchServer, monkeypatch: pytest.MonkeyPatch, backend: str
) -> None:
    from holobench.backends import create_backend
    from holobench.backends.base import BackendError

    request = ChatRequest("i", (ChatMessage(role="user", content="How many rows?"),), SamplingParams(), "cot")
    opts = BackendOptions(model="fake-model", base_url=base_url(batch_server, backend), api_key_env="HB_BATCH_KEY")

    async def go() -> str:
        b = create_backend(backend, opts)
        try:
            return (await b.generate(request)).text
        finally:
            await b.aclose()

    assert asyncio.run(go()) == answer_for("How many rows?")

    async def priced() -> Outcome:  # a single request is not a batch: the full price
        b = create_backend(backend, opts)
        try:
            return await Client(
                b, prices=PriceTable({"fake-model": Price(input_per_million=2.0, output_per_million=8.0)})
            ).complete(request)
        finally:
            await b.aclose()

    single = asyncio.run(priced())
    assert single.completion is not None
    usage = single.completion.usage
    assert single.cost_usd == pytest.approx((usage.prompt_tokens * 2.0 + usage.completion_tokens * 8.0) / 1e6)
    wrong = SECRET + "-wrong"
    monkeypatch.setenv("HB_BATCH_KEY", wrong)
    batch_server.state.key = SECRET
    b = create_backend(backend, opts)
    api = b.batch_api()
    assert api is not None
    with pytest.raises(BackendError) as info:
        asyncio.run(api.submit([api.entry("r0", request)]))
    assert "401" in str(info.value) and not info.value.retryable and wrong not in str(info.value)


def test_prices_cached_written_and_batch_rates() -> None:
    price = Price(input_per_million=3.0, output_per_million=15.0, cached_input_per_million=0.3,
                  cache_write_per_million=3.75)  # fmt: skip
    assert price.cost(1000, 100) == pytest.approx((3000 + 1500) / 1e6)
    assert price.cost(1000, 100, cached=600, written=200) == pytest.approx(
        (200 * 3 + 600 * 0.3 + 200 * 3.75 + 1500) / 1e6
    )
    assert price.cost(1000, 100, cached=600, batch=True) == pytest.approx((400 * 3 + 600 * 0.3 + 1500) / 2e6)
    plain = Price(input_per_million=1.0, output_per_million=2.0)
    assert plain.cost(1000, 0, cached=500) == plain.cost(1000, 0)  # no cached rate: the input rate


def test_old_journal_records_load_with_no_cached_tokens() -> None:
    old = (
        '{"id":"a","backend":"openai","model":"m","prompt":"cot","status":"ok",'
        '"usage":{"prompt_tokens":5,"completion_tokens":2}}'
    )
    usage = Prediction.model_validate_json(old).usage
    assert (usage.prompt_tokens, usage.cached_prompt_tokens, usage.cache_write_tokens) == (5, 0, 0)


def test_the_command_line_reports_an_expired_batch_and_exits_1(
    smoke_file: Path, batch_server: FakeBatchServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from holobench.cli import app

    monkeypatch.setenv("COLUMNS", "200")
    batch_server.state.outcome = lambda n: "expired"
    batch_server.state.cached = lambda prompt: 1024
    args = ["run", "--instances", str(smoke_file), "--backend", "openai-batch", "--model", "fake-model",
            "--base-url", batch_server.root + "/v1", "--api-key-env", "HB_BATCH_KEY", "--option", "poll_interval=0",
            "--no-cache", "-o", str(tmp_path / "cli")]  # fmt: skip
    result = CliRunner().invoke(app, args)
    n = len(prompts(smoke_file))
    assert result.exit_code == 1, result.output
    assert f"{n // 2} answered, 0 skipped, {n - n // 2} failed this run" in result.output
    cached = sum(p.usage.cached_prompt_tokens for p in journal(tmp_path / "cli").values())
    assert cached > 0 and f"({cached:,} from the prompt cache)" in result.output
    assert f"batch batch_1 expired: {n // 2} of {n} answered, 0 failed, {n - n // 2} not run; rerun" in result.output
    assert "requests go out as batches" in result.output and "rerun this command to keep polling" in result.output
    assert SECRET not in result.output
    no_secret_anywhere(tmp_path)


def test_usage_reads_cached_tokens_as_each_server_reports_them() -> None:
    from holobench.backends.anthropic_batch import message_completion
    from holobench.backends.openai import usage_of

    openai_style = {
        "usage": {"prompt_tokens": 2000, "completion_tokens": 9, "prompt_tokens_details": {"cached_tokens": 1536}}
    }
    assert usage_of(openai_style).cached_prompt_tokens == 1536
    llamacpp_style = {"usage": {"prompt_tokens": 300, "completion_tokens": 4}, "timings": {"cache_n": 256}}
    assert usage_of(llamacpp_style).cached_prompt_tokens == 256
    assert usage_of({"usage": {"prompt_tokens": 5, "prompt_tokens_details": None}}).cached_prompt_tokens == 0
    usage = {
        "input_tokens": 50,
        "output_tokens": 7,
        "cache_read_input_tokens": 1000,
        "cache_creation_input_tokens": 200,
    }
    done = message_completion(
        {"content": [{"type": "text", "text": "4"}], "usage": usage, "stop_reason": "max_tokens"}, "m"
    )
    assert (done.usage.prompt_tokens, done.usage.cached_prompt_tokens, done.usage.cache_write_tokens) == (
        1250,
        1000,
        200,
    )
    assert done.text == "4" and done.finish_reason == "length"


def test_dry_run_prices_direct_batch_and_cached(smoke_file: Path, tmp_path: Path) -> None:
    from holobench.estimate import dry_run

    prices = tmp_path / "prices.yaml"
    prices.write_text(PRICES, encoding="utf-8")
    cfg = RunConfig(backend="openai-batch", options=BackendOptions(model="fake-model"), prices=prices,
                    sampling=SamplingParams(max_tokens=100))  # fmt: skip
    report = dry_run(smoke_file, cfg)
    tokens, repeated = report["prompt_tokens"], report["repeated_prefix_tokens"]
    assert report["cached_input_per_million"] == 0.5
    assert report["input_cost_usd"] == round(tokens * 2.0 / 1e6, 4)
    assert report["batch_input_cost_usd"] == round(tokens * 1.0 / 1e6, 4)
    assert report["batch_max_output_cost_usd"] == round(report["max_output_tokens"] * 4.0 / 1e6, 4)
    assert report["cached_input_cost_usd"] == round(((tokens - repeated) * 2.0 + repeated * 0.5) / 1e6, 4)
    # two questions on one long context: the second repeats the first's prefix (not the question)
    rows = [json.loads(x) for x in smoke_file.read_text(encoding="utf-8").splitlines()]
    longest = max(rows, key=lambda r: len(r["context"]))
    twin = {**longest, "id": longest["id"] + "-twin", "question": "And how many are there in all?"}
    pair = tmp_path / "pair.jsonl"
    pair.write_text(json.dumps(longest) + "\n" + json.dumps(twin) + "\n", encoding="utf-8")
    both = dry_run(pair, cfg)
    assert 1024 <= both["repeated_prefix_tokens"] < both["prompt_tokens"] / 2
    short = {**longest, "context": longest["context"][:2000]}  # a prefix under 1,024 tokens is never cached
    pair.write_text(json.dumps(short) + "\n" + json.dumps({**short, "id": "twin"}) + "\n", encoding="utf-8")
    assert dry_run(pair, cfg)["repeated_prefix_tokens"] == 0


def test_a_torn_batch_record_is_cut_and_a_corrupt_one_named(tmp_path: Path) -> None:
    from holobench.errors import HoloBenchError
    from holobench.records import BatchRecord

    path = tmp_path / BATCHES_FILE
    record = BatchRecord(batch_id="b1", provider="openai", ids=["a", "b"], status="submitted")
    path.write_text(record.model_dump_json() + "\n" + record.model_dump_json()[:20], encoding="utf-8")
    assert list(BatchJournal(path).load()) == ["b1"]  # the torn line's batch is resubmitted
    assert path.read_text(encoding="utf-8").endswith("\n")
    path.write_text(record.model_dump_json() + "\n{not json}\n", encoding="utf-8")
    with pytest.raises(HoloBenchError, match=rf"{BATCHES_FILE}:2: not a batch record; move the file aside"):
        BatchJournal(path).load()


@pytest.mark.parametrize(
    ("backend", "option", "message"),
    [
        ("openai-batch", "max_requests=50001", "max_requests <= 50,000"),
        ("anthropic-batch", "max_bytes=0", "0 < max_bytes <= 256,000,000"),
        ("openai-batch", "poll_interval=-1", "poll_interval >= 0"),
        ("anthropic-batch", "max_requests=many", "option max_requests='many' is not a valid int"),
    ],
)
def test_limits_above_the_provider_or_nonsense_are_one_clear_error(
    smoke_file: Path, tmp_path: Path, backend: str, option: str, message: str
) -> None:
    from typer.testing import CliRunner

    from holobench.cli import app
    from holobench.errors import HoloBenchError

    args = ["run", "--instances", str(smoke_file), "--backend", backend, "--model", "m", "--option", option,
            "-o", str(tmp_path / "r")]  # fmt: skip
    result = CliRunner().invoke(app, args)  # holobench.cli.main turns the error into one line and exit 2
    assert isinstance(result.exception, HoloBenchError), result.output
    assert message in str(result.exception) and "\n" not in str(result.exception)
    assert not (tmp_path / "r").exists() or not list((tmp_path / "r").iterdir())  # nothing written
