"""The runner and the openai backend against a real HTTP server on loopback: faults, resume,
cache, over-length, shards, secrets."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from holobench.backends import BackendOptions, SamplingParams
from holobench.backends.openai import TRANSPORTS
from holobench.errors import HoloBenchError
from holobench.estimate import dry_run
from holobench.journal import Journal
from holobench.merge import merge_runs
from holobench.prompts import split_reasoning
from holobench.records import Prediction
from holobench.runner import RunConfig, Runner, in_shard
from holobench.suite import generate_suite, load_suite
from holobench.testing.fake_server import FakeOpenAIServer, Fault, ServerState, answer_for

SECRET = "sk-holobench-test-SECRET-0123456789"


@pytest.fixture(scope="module")
def instances(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("smoke")
    generate_suite(load_suite("smoke"), out)
    return out / "instances.jsonl"


def config(server: FakeOpenAIServer, tmp_path: Path, **kw: object) -> RunConfig:
    base: dict[str, object] = {
        "backend": "openai",
        "options": BackendOptions(model="fake-model", base_url=server.base_url, api_key_env="HB_TEST_KEY"),
        "concurrency": 8,
        "max_retries": 4,
        "timeout_s": 5.0,
        "cache_dir": tmp_path / "cache",
        "sampling": SamplingParams(max_tokens=64),
    }
    base.update(kw)
    return RunConfig.model_validate(base)


def run(instances: Path, out: Path, cfg: RunConfig) -> dict[str, object]:
    return asyncio.run(Runner(instances, out, cfg).run())


def ids(path: Path) -> list[str]:
    return [json.loads(x)["id"] for x in path.read_text(encoding="utf-8").splitlines()]


def journal(out: Path) -> dict[str, Prediction]:
    return Journal(out / "predictions.jsonl").load(repair=False)


def on(transport: str, server: FakeOpenAIServer, **kw: object) -> BackendOptions:
    """The openai backend's options for one transport (``direct`` is the default)."""
    base: dict[str, object] = {"model": "fake-model", "base_url": server.base_url, "api_key_env": "HB_TEST_KEY"}
    return BackendOptions.model_validate({**base, **kw, "options": {"transport": transport}})


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_every_instance_answered_once_with_usage_and_cache(
    instances: Path, server: FakeOpenAIServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, transport: str
) -> None:
    monkeypatch.setenv("HB_TEST_KEY", SECRET)
    summary = run(instances, tmp_path / "a", config(server, tmp_path, options=on(transport, server)))
    records = journal(tmp_path / "a")
    lines = (tmp_path / "a" / "predictions.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(records) == len(ids(instances)) == summary["total"]
    assert all(p.status == "ok" and p.usage.prompt_tokens > 0 and p.attempts == 1 for p in records.values())
    assert server.state.headers[0]["authorization"] == f"Bearer {SECRET}"
    # a second run elsewhere is served from the cache (whichever transport filled it)
    before = len(server.state.log)
    run(
        instances,
        tmp_path / "b",
        config(server, tmp_path, options=on("sdk" if transport == "direct" else "direct", server)),
    )
    assert len(server.state.log) == before
    assert all(p.cached for p in journal(tmp_path / "b").values())
    # another model never hits those cache entries
    other = config(server, tmp_path, options=BackendOptions(model="other", base_url=server.base_url))
    run(instances, tmp_path / "c", other)
    assert len(server.state.log) == before + len(records)
    # the secret reaches no file
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_faults_finish_every_instance_exactly_once(
    instances: Path, server: FakeOpenAIServer, tmp_path: Path, transport: str
) -> None:
    def plan(prompt: str, attempt: int) -> Fault:
        kind = int(hashlib.sha256(prompt.encode()).hexdigest(), 16) % 7
        if kind == 0 and attempt == 0:
            return Fault("status", 429, retry_after=0.3)
        if kind == 1 and attempt < 2:
            return Fault("status", 500 + attempt * 3)
        if kind == 2 and attempt == 0:
            return Fault("drop")
        if kind == 3 and attempt == 0:
            return Fault("malformed")
        if kind == 4 and attempt == 0:
            return Fault("slow", delay=3.0)
        if kind == 5:
            return Fault("status", 401, body="invalid key")  # permanent: recorded, not retried
        return Fault()

    server.state.plan = plan
    cfg = config(server, tmp_path, timeout_s=1.0, max_retries=3, cache_dir=None, options=on(transport, server))
    runner = Runner(instances, tmp_path / "f", cfg)
    client_wait = {"base": 0.05}
    from holobench.backends import client as client_module

    original = client_module.Client.__init__

    def fast_backoff(self: client_module.Client, *a: object, **kw: object) -> None:
        original(self, *a, **kw)  # type: ignore[arg-type]
        self.backoff_base = self.backoff_max = client_wait["base"]

    client_module.Client.__init__ = fast_backoff  # type: ignore[method-assign]
    try:
        asyncio.run(runner.run())
    finally:
        client_module.Client.__init__ = original  # type: ignore[method-assign]
    lines = (tmp_path / "f" / "predictions.jsonl").read_text(encoding="utf-8").splitlines()
    records = [Prediction.model_validate_json(x) for x in lines]
    assert sorted(r.id for r in records) == sorted(ids(instances))  # exactly once each
    # Two smoke instances can share a context (and so a prompt): the server counts
    # attempts per prompt, so only prompts that occur once have a predictable fault sequence.
    from collections import Counter

    from holobench.prompts import render_prompt

    prompts = {r.id: r for r in records}
    rendered = {}
    for inst_line in instances.read_text(encoding="utf-8").splitlines():
        inst = json.loads(inst_line)
        rendered[inst["id"]] = render_prompt("cot", inst["context"], inst["question"])
    twice = {p for p, n in Counter(rendered.values()).items() if n > 1}
    by_kind: dict[int, list[Prediction]] = {}
    for iid, prompt in rendered.items():
        if prompts[iid].status == "ok":
            assert prompts[iid].response == answer_for(prompt)
        if prompt not in twice:
            by_kind.setdefault(int(hashlib.sha256(prompt.encode()).hexdigest(), 16) % 7, []).append(prompts[iid])
    assert {r.status for r in by_kind.get(5, [])} <= {"error"}
    assert all("401" in (r.error or "") and r.attempts == 1 for r in by_kind.get(5, []))
    for kind in (0, 2, 3, 4):
        assert all(r.status == "ok" and r.attempts == 2 for r in by_kind.get(kind, [])), kind
    assert all(r.status == "ok" and r.attempts == 3 for r in by_kind.get(1, []))
    assert len({k for k, v in by_kind.items() if v}) >= 4
    # Retry-After was honoured: the retry of a 429 came at least 0.3 s later
    events: dict[str, list[tuple[float, str]]] = {}
    for t, key, outcome in server.state.log:
        events.setdefault(key, []).append((t, outcome))
    for seq in events.values():
        if seq[0][1] == "429":
            assert seq[1][0] - seq[0][0] >= 0.3 - 0.01


def test_over_length_is_skipped_not_failed(instances: Path, server: FakeOpenAIServer, tmp_path: Path) -> None:
    server.state.plan = lambda prompt, attempt: Fault(
        "status", 400, body="This model's maximum context length is 1024 tokens, your prompt has 2200"
    )
    run(instances, tmp_path / "o", config(server, tmp_path, cache_dir=None))
    records = journal(tmp_path / "o").values()
    assert {(r.status, r.skip_reason) for r in records} == {("skipped", "context_length")}
    # with a known window the prompt is never sent
    server.state.plan = lambda prompt, attempt: Fault()
    before = len(server.state.log)
    small = config(
        server,
        tmp_path,
        cache_dir=None,
        options=BackendOptions(model="fake-model", base_url=server.base_url, context_window=1000),
    )
    run(instances, tmp_path / "o2", small)
    assert len(server.state.log) == before
    assert {r.skip_reason for r in journal(tmp_path / "o2").values()} == {"context_length"}


def test_window_learned_from_the_server(instances: Path, server: FakeOpenAIServer, tmp_path: Path) -> None:
    server.state.context_window = 1000
    run(instances, tmp_path / "w", config(server, tmp_path, cache_dir=None))
    assert {r.skip_reason for r in journal(tmp_path / "w").values()} == {"context_length"}
    assert not server.state.log


def test_reasoning_is_split_from_the_answer(instances: Path, server: FakeOpenAIServer, tmp_path: Path) -> None:
    server.state.reply = lambda prompt: "<think>Count the rows.\nThere are 3.</think>\nFinal answer: 3"
    run(instances, tmp_path / "r", config(server, tmp_path, cache_dir=None))
    for p in journal(tmp_path / "r").values():
        assert p.response == "Final answer: 3" and p.reasoning == "Count the rows.\nThere are 3."
    assert split_reasoning("<think>cut off") == ("cut off", "")


def test_resume_skips_finished_and_repairs_a_torn_line(
    instances: Path, server: FakeOpenAIServer, tmp_path: Path
) -> None:
    out = tmp_path / "t"
    run(instances, out, config(server, tmp_path, cache_dir=None))
    journal_path = out / "predictions.jsonl"
    lines = journal_path.read_text(encoding="utf-8").splitlines(keepends=True)
    journal_path.write_text("".join(lines[:10]) + lines[10][: len(lines[10]) // 2], encoding="utf-8")
    before = len(server.state.log)
    run(instances, out, config(server, tmp_path, cache_dir=None))
    assert len(server.state.log) - before == len(lines) - 10  # only the unfinished ones were sent
    final = journal(out)
    assert sorted(final) == sorted(ids(instances))
    assert all(json.loads(x) for x in journal_path.read_text(encoding="utf-8").splitlines())
    # a different model in the same folder is refused
    with pytest.raises(Exception, match="different backend"):
        run(instances, out, config(server, tmp_path, options=BackendOptions(model="x", base_url=server.base_url)))


def test_supersede_moves_a_run_with_other_settings_aside_and_loses_nothing(
    instances: Path, server: FakeOpenAIServer, tmp_path: Path
) -> None:
    out = tmp_path / "t"
    run(instances, out, config(server, tmp_path, cache_dir=None))
    first = (out / "predictions.jsonl").read_bytes()
    (out / "scores").mkdir()
    (out / "scores" / "marker").write_text("scored", encoding="utf-8")
    other = config(server, tmp_path, cache_dir=None, prompt="direct")
    with pytest.raises(HoloBenchError, match=r"different prompt.*--supersede"):
        run(instances, out, other)
    assert (out / "predictions.jsonl").read_bytes() == first  # a refusal touches nothing
    runner = Runner(instances, out, other, supersede=True)
    asyncio.run(runner.run())
    assert runner.superseded == out / "superseded" / "1"
    assert (runner.superseded / "predictions.jsonl").read_bytes() == first
    assert (runner.superseded / "scores" / "marker").read_text(encoding="utf-8") == "scored"
    assert {json.loads(x)["prompt"] for x in (out / "predictions.jsonl").read_text().splitlines()} == {"direct"}
    assert not (out / "scores").exists()
    # the same settings again: nothing moves, the run resumes
    again = Runner(instances, out, other, supersede=True)
    asyncio.run(again.run())
    assert again.superseded is None and not (out / "superseded" / "2").exists()


def test_kill_minus_nine_then_resume_matches_an_uninterrupted_run(instances: Path, tmp_path: Path) -> None:
    """A real subprocess, killed with SIGKILL mid-run, then resumed."""
    server = FakeOpenAIServer(ServerState(latency=0.15)).start()
    try:
        args = [
            sys.executable, "-m", "holobench.cli", "run", "--instances", str(instances), "--backend", "openai",
            "--model", "fake-model", "--base-url", server.base_url, "--concurrency", "2", "--no-cache",
        ]  # fmt: skip
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        proc = subprocess.Popen([*args, "-o", str(tmp_path / "k")], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)  # fmt: skip
        journal_path = tmp_path / "k" / "predictions.jsonl"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if journal_path.exists() and len(journal_path.read_bytes().splitlines()) >= 8:
                break
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        partial = len(journal_path.read_bytes().splitlines())
        assert 8 <= partial < len(ids(instances))
        subprocess.run([*args, "-o", str(tmp_path / "k")], env=env, check=True, capture_output=True)
        subprocess.run([*args, "-o", str(tmp_path / "u")], env=env, check=True, capture_output=True)
    finally:
        server.stop()

    def final(d: str) -> dict[str, tuple[str, str | None]]:
        return {k: (p.status, p.response) for k, p in journal(tmp_path / d).items()}

    assert final("k") == final("u") and len(final("k")) == len(ids(instances))


def test_shards_cover_everything_once_and_merge(instances: Path, server: FakeOpenAIServer, tmp_path: Path) -> None:
    for i in range(3):
        run(instances, tmp_path / f"s{i}", config(server, tmp_path, shard=(i, 3), cache_dir=None))
    parts = [set(journal(tmp_path / f"s{i}")) for i in range(3)]
    assert sum(len(p) for p in parts) == len(ids(instances)) and set().union(*parts) == set(ids(instances))
    assert all(parts)
    report = merge_runs([tmp_path / f"s{i}" for i in range(3)], tmp_path / "merged")
    assert report["predictions"] == len(ids(instances))
    assert set(journal(tmp_path / "merged")) == set(ids(instances))
    assert all(in_shard(x, (0, 3)) for x in parts[0])
    run(instances, tmp_path / "other", config(server, tmp_path, prompt="direct", cache_dir=None))
    with pytest.raises(Exception, match="differs"):
        merge_runs([tmp_path / "s0", tmp_path / "other"], tmp_path / "bad")


def test_dry_run_counts_tokens_and_prices(instances: Path, tmp_path: Path) -> None:
    cfg = RunConfig(
        backend="openai", options=BackendOptions(model="gpt-4o-mini"), sampling=SamplingParams(max_tokens=100)
    )
    report = dry_run(instances, cfg)
    assert report["instances"] == len(ids(instances))
    assert 1024 < report["max_prompt_tokens"] < 1600
    assert report["input_cost_usd"] == round(report["prompt_tokens"] * 0.15 / 1e6, 4)
    prices = tmp_path / "prices.yaml"
    prices.write_text("my-model: {input_per_million: 1.0, output_per_million: 2.0}\n", encoding="utf-8")
    mine = RunConfig(backend="openai", options=BackendOptions(model="my-model"), prices=prices)
    assert dry_run(instances, mine)["input_cost_usd"] == round(report["prompt_tokens"] / 1e6, 4)


def test_missing_backend_dependency_names_the_extra() -> None:
    from holobench.backends import create_backend
    from holobench.errors import HoloBenchError

    with pytest.raises(HoloBenchError, match="unknown backend"):
        create_backend("gpt")
    try:
        import vllm  # noqa: F401
    except ImportError:
        with pytest.raises(HoloBenchError, match=r"holobench\[vllm\]"):
            create_backend("vllm", BackendOptions(model="m"))


def test_a_bad_record_stops_the_run_after_the_requests_in_flight(
    instances: Path, server: FakeOpenAIServer, tmp_path: Path
) -> None:
    lines = instances.read_text(encoding="utf-8").splitlines(keepends=True)
    broken = tmp_path / "broken.jsonl"
    broken.write_text("".join(lines[:20]) + '{"id":"bad-1","context":\n' + "".join(lines[20:]), encoding="utf-8")
    server.state.latency = 0.05
    with pytest.raises(HoloBenchError, match=r"broken\.jsonl:21: not an instance record"):
        run(broken, tmp_path / "x", config(server, tmp_path, cache_dir=None, concurrency=4))
    finished = journal(tmp_path / "x")
    assert set(finished) == set(ids(instances)[:20])  # every request sent was answered and kept
    assert all(p.status == "ok" for p in finished.values())


def test_a_failed_record_stops_every_worker(instances: Path, server: FakeOpenAIServer, tmp_path: Path) -> None:
    """One write that fails (here the progress hook, once) stops the run, not just one worker."""
    server.state.latency = 0.05

    def progress(done: int, total: int, client: object) -> None:
        if done == 5:
            raise OSError("disk full")

    runner = Runner(instances, tmp_path / "p", config(server, tmp_path, cache_dir=None, concurrency=4))
    with pytest.raises(OSError, match="disk full"):
        asyncio.run(runner.run(progress))
    assert len(server.state.log) <= 5 + 3  # the five recorded, plus the other workers' in flight
    assert len(journal(tmp_path / "p")) == len(server.state.log)  # and every answer was kept


def test_two_runs_cannot_write_one_folder(instances: Path, tmp_path: Path) -> None:
    """A second run into a folder another run holds fails at once, naming the holder; the lock
    goes with its holder, so the folder is usable afterwards (and after a crash)."""
    import os

    from holobench._io import exclusive

    out = tmp_path / "run"
    cfg = RunConfig(backend="no-answer", options=BackendOptions(), cache_dir=None)
    with exclusive(out, "a holobench run"):
        with pytest.raises(HoloBenchError, match=rf"a holobench run by pid {os.getpid()} is writing here now"):
            run(instances, out, cfg)
        assert not (out / "predictions.jsonl").exists()
    summary = run(instances, out, cfg)
    assert summary["this_run"]["ok"] == summary["total"]  # type: ignore[index]
