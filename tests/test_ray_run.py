"""Runs on a real two-node Ray cluster on this machine: HTTP workers on both nodes under one
shared concurrency bound (the loopback server counts it), a fleet of servers, a node removed
mid-run and the rerun that resumes, and vLLM replicas placed on GPUs (the stand-in ``vllm``)."""

from __future__ import annotations

import asyncio
import json
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ray = pytest.importorskip("ray")
from ray.cluster_utils import Cluster  # noqa: E402

from holobench.backends import BackendOptions  # noqa: E402
from holobench.errors import HoloBenchError  # noqa: E402
from holobench.journal import Journal  # noqa: E402
from holobench.ray_run import RayRunner, WorkerPool  # noqa: E402
from holobench.records import Prediction  # noqa: E402
from holobench.runner import RunConfig, Runner  # noqa: E402
from holobench.testing.fake_server import FakeOpenAIServer, Fault, ServerState  # noqa: E402

from .ray_cluster import ROOT, run_main, two_node_cluster  # noqa: E402

#: One CPU and two (declared) GPUs per node: two HTTP workers, or vLLM replicas of 1 or 2 GPUs.
NODE = {"num_cpus": 1, "num_gpus": 2, "object_store_memory": 150 * 2**20}
BOUND = 3


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """A head and one more node, joined by this process; torn down whatever happens. The nodes'
    workers also import ``tests`` and the stand-in ``vllm``."""
    with two_node_cluster(NODE, [ROOT / "tests" / "stand_ins"]) as joined:
        yield joined


@pytest.fixture()
def servers() -> Iterator[tuple[FakeOpenAIServer, FakeOpenAIServer]]:
    """Two loopback servers sharing one state: one count of requests in flight across both."""
    state = ServerState(latency=0.05)
    pair = (FakeOpenAIServer(state).start(), FakeOpenAIServer(state).start())
    yield pair
    for server in pair:
        server.stop()


def http_config(*urls: str, **fields: Any) -> RunConfig:
    options = BackendOptions(model="fake-model", base_url=urls[0], more_base_urls=urls[1:])
    return RunConfig(backend="openai", options=options, concurrency=BOUND, cache_dir=None, **fields)


def journal(out: Path) -> list[Prediction]:
    lines = (out / "predictions.jsonl").read_text(encoding="utf-8").splitlines()
    return [Prediction.model_validate_json(line) for line in lines]


def instance_ids(instances: Path) -> list[str]:
    return [json.loads(line)["id"] for line in instances.read_text(encoding="utf-8").splitlines()]


def test_a_fleet_run_from_both_nodes_answers_each_once_under_the_shared_bound(
    cluster: Cluster, servers: tuple[FakeOpenAIServer, FakeOpenAIServer], smoke_file: Path, tmp_path: Path
) -> None:
    one, two = servers
    argv = ["run", "--instances", str(smoke_file), "--backend", "openai", "--model", "fake-model"]
    argv += ["--base-url", one.base_url, "--base-url", two.base_url, "--concurrency", str(BOUND), "--no-cache"]
    argv += ["-o", str(tmp_path / "ray"), "--executor", "ray", "--ray-address", cluster.address]
    assert run_main(argv) == 0
    state = one.state
    ids = instance_ids(smoke_file)
    records = journal(tmp_path / "ray")
    assert sorted(p.id for p in records) == sorted(ids)  # every instance, each exactly once
    assert {p.status for p in records} == {"ok"}
    assert len(state.requests) == len(ids)
    assert state.max_in_flight <= BOUND, state.max_in_flight
    ports = Counter(headers["host"].rsplit(":", 1)[1] for headers in state.headers)
    assert set(ports) == {str(one.server_address[1]), str(two.server_address[1])}, ports
    # the same answers a run in this process gets from the same servers
    asyncio.run(Runner(smoke_file, tmp_path / "local", http_config(one.base_url, two.base_url)).run())
    assert {p.id: p.response for p in records} == {p.id: p.response for p in journal(tmp_path / "local")}


def test_workers_sit_on_both_nodes_and_share_one_limiter(
    cluster: Cluster, servers: tuple[FakeOpenAIServer, FakeOpenAIServer], smoke_file: Path, tmp_path: Path
) -> None:
    runner = RayRunner(smoke_file, tmp_path / "out", http_config(servers[0].base_url, max_rate=50.0))
    nodes = {node["NodeID"] for node in ray.nodes() if node["Alive"]}
    assert {facts.node for facts in runner.pool.facts} == nodes and len(runner.pool.facts) == 2
    summary = asyncio.run(runner.run())
    assert summary["this_run"] == {"ok": summary["total"], "error": 0, "skipped": 0}
    assert summary["client"]["requests"] == summary["total"] and summary["client"]["prompt_tokens"] > 0
    assert set(runner.pool.answered) == nodes and sum(runner.pool.answered.values()) == summary["total"]
    assert runner.limits["slots"] == BOUND and 1 <= runner.limits["peak"] <= BOUND
    assert runner.limits["min_gap_s"] >= 1 / 50 - 1e-9  # --max-rate 50: attempts start 20 ms apart or more
    assert servers[0].state.max_in_flight <= BOUND


def vllm_config(tensor_parallel_size: int, **options: str) -> RunConfig:
    opts = {"tensor_parallel_size": str(tensor_parallel_size), **options}
    return RunConfig(backend="vllm", options=BackendOptions(model="stand-in/model", options=opts), cache_dir=None)


def test_vllm_replicas_hold_their_gpus_and_answer_in_batches(
    cluster: Cluster, smoke_file: Path, tmp_path: Path
) -> None:
    runner = RayRunner(smoke_file, tmp_path / "out", vllm_config(2, batch_size="5"))
    facts = runner.pool.facts
    assert len(facts) == 2 and len({f.node for f in facts}) == 2  # two GPUs a node: one replica each
    assert all(len(f.gpus) == 2 and f.settings["tensor_parallel_size"] == 2 for f in facts)
    assert runner.pool.limiter is None  # engines in the workers share no request bound
    summary = asyncio.run(runner.run())
    records = journal(tmp_path / "out")
    assert sorted(p.id for p in records) == sorted(instance_ids(smoke_file))
    assert all(p.status == "ok" and p.backend == "vllm" and (p.response or "").startswith("answer: ") for p in records)
    assert summary["this_run"]["ok"] == len(records)
    assert len(runner.pool.answered) == 2  # batches went to both replicas
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["backend"]["tensor_parallel_size"] == 2


def test_one_gpu_replicas_fill_the_cluster(cluster: Cluster) -> None:
    pool = WorkerPool(vllm_config(1))
    try:
        assert len(pool.facts) == 4 and all(len(f.gpus) == 1 for f in pool.facts)
        assert Counter(f.node for f in pool.facts) == Counter({n: 2 for n in {f.node for f in pool.facts}})
        assert len({(f.node, f.gpus) for f in pool.facts}) == 4  # no GPU given twice
    finally:
        pool.close()


def test_replicas_that_cannot_be_placed_are_one_clear_error(cluster: Cluster) -> None:
    with pytest.raises(HoloBenchError, match=r"a replica needs 4 GPUs on one node"):
        WorkerPool(vllm_config(4))
    with pytest.raises(HoloBenchError, match=r"^--ray-workers 3: the Ray cluster's GPUs hold 2 replicas of 2 GPUs"):
        WorkerPool(vllm_config(2), workers=3)
    with pytest.raises(HoloBenchError) as raised:
        WorkerPool(vllm_config(1, batch_size="0"))
    assert str(raised.value) == (
        "a Ray worker could not start the vllm backend: "
        "tensor_parallel_size, batch_size and max_model_len must be positive"
    )


def test_a_batch_backend_on_ray_is_one_clear_error(
    cluster: Cluster,
    servers: tuple[FakeOpenAIServer, FakeOpenAIServer],
    capsys: pytest.CaptureFixture[str],
    smoke_file: Path,
    tmp_path: Path,
) -> None:
    """A provider batch run is one process's job: on Ray each worker would send its requests one
    at a time, at full price, so it is refused before anything is sent or written."""
    one, _ = servers
    argv = ["run", "--instances", str(smoke_file), "--backend", "openai-batch", "--model", "fake-model"]
    argv += ["--base-url", one.base_url, "-o", str(tmp_path / "out")]
    assert run_main([*argv, "--executor", "ray", "--ray-address", cluster.address]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "--executor local" in err, err
    assert not one.state.requests and not (tmp_path / "out").exists()


def test_without_ray_the_cli_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], smoke_file: Path, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails as if not installed
    argv = ["run", "--instances", str(smoke_file), "--backend", "no-answer", "-o", str(tmp_path / "out")]
    assert run_main([*argv, "--executor", "ray"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "pip install 'holobench[ray]'" in err
    assert not (tmp_path / "out").exists()


def test_a_run_whose_workers_all_die_stops_and_a_rerun_resumes(
    cluster: Cluster, smoke_file: Path, tmp_path: Path
) -> None:
    """The twelfth request the server gets kills every worker: the run stops with one line, what
    was answered stays journaled once, and the rerun answers only the rest."""
    runners: list[RayRunner] = []
    seen = 0
    guard = threading.Lock()

    def kill_all_on_the_twelfth(prompt: str, attempt: int) -> Fault:
        nonlocal seen
        with guard:
            seen += 1
            if seen == 12:
                for handle in runners[0].pool.handles:
                    ray.kill(handle)
        return Fault()

    server = FakeOpenAIServer(ServerState(latency=0.05, plan=kill_all_on_the_twelfth)).start()
    try:
        config = http_config(server.base_url, timeout_s=15.0)
        runners.append(RayRunner(smoke_file, tmp_path / "out", config))
        with pytest.raises(HoloBenchError, match=r"^every Ray worker of this run is gone .*rerun the same command"):
            asyncio.run(runners[0].run())
        first = [p.id for p in journal(tmp_path / "out")]
        assert len(first) == len(set(first)) and len(first) < 12  # answered before the kill, once each
        again = asyncio.run(RayRunner(smoke_file, tmp_path / "out", config).run())
        ids = instance_ids(smoke_file)
        assert again["this_run"] == {"ok": len(ids) - len(first), "error": 0, "skipped": 0}
        assert sorted(p.id for p in journal(tmp_path / "out")) == sorted(ids)
        assert len(server.state.requests) <= len(ids) + BOUND and server.state.max_in_flight <= BOUND
    finally:
        server.stop()


def test_a_node_removed_mid_run_loses_only_its_requests_and_a_rerun_resumes(
    cluster: Cluster, smoke_file: Path, tmp_path: Path
) -> None:
    """The twelfth request the server gets removes the node this process is not on; its worker's
    instances go to the other one.  Runs last: the node is added back at the end."""
    here = ray.get_runtime_context().get_node_id()
    (other,) = [node for node in cluster.list_all_nodes() if node.node_id != here]
    seen = 0
    guard = threading.Lock()

    def remove_on_the_twelfth(prompt: str, attempt: int) -> Fault:
        nonlocal seen
        with guard:
            seen += 1
            if seen == 12:
                cluster.remove_node(other)
        return Fault()

    server = FakeOpenAIServer(ServerState(latency=0.05, plan=remove_on_the_twelfth)).start()
    try:
        config = http_config(server.base_url, timeout_s=15.0)
        runner = RayRunner(smoke_file, tmp_path / "out", config)
        summary = asyncio.run(runner.run())
        ids = instance_ids(smoke_file)
        assert sorted(p.id for p in journal(tmp_path / "out")) == sorted(ids)
        assert summary["this_run"] == {"ok": len(ids), "error": 0, "skipped": 0}
        assert runner.pool.alive.count(False) == 1
        assert len(ids) <= len(server.state.requests) <= len(ids) + BOUND  # only in-flight ones again
        assert server.state.max_in_flight <= BOUND

        sent = len(server.state.requests)
        again = asyncio.run(RayRunner(smoke_file, tmp_path / "out", config).run())
        assert again["this_run"] == {"ok": 0, "error": 0, "skipped": 0} and len(server.state.requests) == sent
        assert Journal(tmp_path / "out" / "predictions.jsonl").load().keys() == set(ids)
    finally:
        server.stop()
        if len([node for node in ray.nodes() if node["Alive"]]) < 2:
            cluster.add_node(**NODE)
            cluster.wait_for_nodes()
