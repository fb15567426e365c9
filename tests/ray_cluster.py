"""A real two-node Ray cluster on this machine for the Ray tests (import after importorskip("ray"))."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import ray
from ray.cluster_utils import Cluster

import holobench
from holobench.cli import main

ROOT = Path(holobench.__file__).resolve().parents[1]


@contextlib.contextmanager
def two_node_cluster(node: dict[str, Any], paths: Sequence[Path] = ()) -> Iterator[Cluster]:
    """A head and one more node with ``node``'s resources, joined by this process, torn down
    whatever happens. The nodes' workers import this holobench and ``paths`` (PYTHONPATH, which
    the nodes inherit). Both nodes bind this machine's own address, not 127.0.0.1: asked for 127.0.0.1,
    Ray 2.60's client still dialled the machine's address and hung (the README's Ray section)."""
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), *map(str, paths), *([old] if old else [])])
    cluster = None
    try:
        cluster = Cluster(initialize_head=True, head_node_args={**node, "include_dashboard": False})
        cluster.add_node(**node)
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, log_to_driver=False, logging_level="WARNING")
        yield cluster
    finally:
        ray.shutdown()
        if cluster is not None:
            cluster.shutdown()
        if old is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old


def run_main(argv: list[str]) -> int:
    """``holobench ARGV`` in this process (the cluster's driver), its exit code."""
    old = sys.argv
    sys.argv = ["holobench", *argv]
    try:
        main()
    except SystemExit as done:
        return int(done.code or 0)
    finally:
        sys.argv = old
    return 0
