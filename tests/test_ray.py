"""Generation on a real two-node Ray cluster on this machine: byte-identical to one process,
tasks spread over both nodes, a task whose worker dies is retried, clear errors without Ray."""

from __future__ import annotations

import functools
import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pytest

ray = pytest.importorskip("ray")
from ray.cluster_utils import Cluster  # noqa: E402

import holobench  # noqa: E402
from holobench.errors import HoloBenchError  # noqa: E402
from holobench.executors import RayExecutor, _connect  # noqa: E402
from holobench.suite import QuerySelection, Suite, generate_suite, load_suite  # noqa: E402

from .ray_cluster import run_main, two_node_cluster  # noqa: E402

T = TypeVar("T")
R = TypeVar("R")
NODE = {"num_cpus": 1, "object_store_memory": 150 * 2**20}

# The retry test's task wrapper lives here; Ray workers cannot import this file, so it travels by value.
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """A head and one more node, one CPU each, joined by this process; torn down whatever happens."""
    with two_node_cluster(NODE) as joined:
        yield joined


def paper_cut() -> Suite:
    """Four queries of ``paper`` at two lengths and two placements (32 cells, some withheld)."""
    paper = load_suite("paper")
    ids = ("store_1-q002", "nycflights-q005", "baseball-q007", "store_1-q010")
    return Suite.model_validate(
        paper.model_dump()
        | {"queries": QuerySelection(ids=ids), "lengths": (4096, 8192), "placements": ("uniform", "bimodal")}
    )


def with_skips() -> Suite:
    """Two queries whose 2M-token cells cannot be built: the manifest lists them with reasons."""
    return Suite.model_validate(
        {
            "name": "skips",
            "databases": ["store_1"],
            "queries": {"ids": ["store_1-q001", "store_1-q004"]},
            "fillers": "none",
            "lengths": [1024, 2_000_000],
            "settings": [{"amount": 512}],
            "placements": ["middle"],
        }
    )


SUITES: dict[str, Callable[[], Suite]] = {
    "smoke": lambda: load_suite("smoke"),
    "paper-cut": paper_cut,
    "skips": with_skips,
}


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """Each suite generated once in this process (``workers=1``): what every other run must equal."""
    made: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in made:
            made[name] = tmp_path_factory.mktemp(f"local-{name}")
            generate_suite(SUITES[name](), made[name], workers=1)
        return made[name]

    return get


def assert_same_output(one: Path, two: Path) -> None:
    """Byte for byte: the instances and the manifest (it holds no timestamps)."""
    for name in ("instances.jsonl", "manifest.json"):
        assert (one / name).read_bytes() == (two / name).read_bytes(), name


@pytest.mark.parametrize("name", list(SUITES))
def test_generation_on_two_nodes_is_byte_identical(
    cluster: Cluster, reference: Callable[[str], Path], tmp_path: Path, name: str
) -> None:
    executor = RayExecutor(cluster.address)
    manifest = generate_suite(SUITES[name](), tmp_path, executor=executor)
    assert_same_output(reference(name), tmp_path)
    queries = len({(line["db_id"], line["query_id"]) for line in map(json.loads, _lines(tmp_path))})
    assert manifest["instances"] > 0 and sum(executor.nodes.values()) == queries
    assert (name == "skips") == bool(manifest["skipped"])
    assert set(executor.nodes) == {node["NodeID"] for node in ray.nodes() if node["Alive"]}, executor.nodes


def _lines(folder: Path) -> list[str]:
    return (folder / "instances.jsonl").read_text(encoding="utf-8").splitlines()


def _slow_first(item: int) -> tuple[int, str]:
    time.sleep(0.5 if item == 0 else 0.0)
    return item, holobench.__file__


def test_results_come_in_input_order_from_this_holobench(cluster: Cluster) -> None:
    executor = RayExecutor(cluster.address)
    results = list(executor.map_ordered(_slow_first, list(range(6))))
    assert [item for item, _ in results] == list(range(6))
    assert {where for _, where in results} == {holobench.__file__}


def _die_once(marker: str, fn: Callable[[Any], Any], item: Any) -> Any:
    """The first task to get here kills its worker process; the retry finds the marker."""
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return fn(item)
    os._exit(1)


class DyingOnce(RayExecutor):
    """A Ray executor one of whose tasks loses its worker on the first attempt."""

    def __init__(self, address: str, marker: Path) -> None:
        super().__init__(address)
        self.marker = str(marker)

    def map_ordered(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[R]:
        return super().map_ordered(functools.partial(_die_once, self.marker, fn), items)


def test_a_task_whose_worker_dies_is_retried(
    cluster: Cluster, reference: Callable[[str], Path], tmp_path: Path
) -> None:
    marker = tmp_path / "died"
    generate_suite(load_suite("smoke"), tmp_path / "out", executor=DyingOnce(cluster.address, marker))
    assert marker.exists()
    assert_same_output(reference("smoke"), tmp_path / "out")


def test_the_cli_generates_on_the_cluster(cluster: Cluster, reference: Callable[[str], Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["generate", "--suite", "smoke", "--executor", "ray", "--ray-address", cluster.address, "-o", str(out)]
    assert run_main(args) == 0
    local = reference("smoke")
    assert (out / "instances.jsonl").read_bytes() == (local / "instances.jsonl").read_bytes()
    ours, theirs = (json.loads((d / "manifest.json").read_text(encoding="utf-8")) for d in (out, local))
    ours.pop("audit", None)  # the CLI adds the audit; generate_suite alone does not
    assert ours == theirs


def test_without_ray_the_cli_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails as if not installed
    assert run_main(["generate", "--suite", "smoke", "--executor", "ray", "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "pip install 'holobench[ray]'" in err


def test_an_unreachable_address_is_one_clear_error() -> None:
    # The step RayExecutor takes before ray.init, which would retry for minutes (this process is
    # joined to the test cluster, so the executor itself would reuse that connection).
    with pytest.raises(HoloBenchError, match=r"^cannot reach the Ray cluster at 127\.0\.0\.1:1: "):
        _connect(ray, "127.0.0.1:1")
