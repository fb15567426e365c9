"""Executors: *how* independent tasks are scheduled, kept apart from *what* they compute.

A caller hands an executor a function and its inputs and reads the results back in input order
as they complete, so whatever it writes is the same whichever executor built it.  ``local`` runs
in this process, or in a pool of worker processes; ``ray`` sends each input as a task to a Ray
cluster (Ray is imported only here, and only when that executor is opened).
"""

from __future__ import annotations

import multiprocessing
import os
import socket
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol, TypeVar

from holobench.errors import HoloBenchError

T = TypeVar("T")
R = TypeVar("R")

RAY_INSTALL_HINT = "pip install 'holobench[ray]'"


class Executor(Protocol):
    """Runs ``fn`` over ``items`` and yields the results in input order, each as soon as it and
    every result before it are done, so a writer can stream them."""

    name: str
    #: Whether ``fn`` runs in this process (it may then be a closure over unpicklable state).
    in_process: bool

    def map_ordered(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[R]: ...

    def close(self) -> None: ...


class LocalExecutor:
    """In this process (``workers`` <= 1), or in a pool of spawned processes; there ``fn`` and
    the items must pickle (a module-level function, or a ``functools.partial`` of one)."""

    name = "local"

    def __init__(self, workers: int = 1) -> None:
        self.workers = workers
        self.in_process = workers <= 1
        self._pool: Any = None

    def map_ordered(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[R]:
        if self.in_process or len(items) <= 1:  # one item: a pool would only add its start-up
            return (fn(item) for item in items)
        if self._pool is None:
            self._pool = multiprocessing.get_context("spawn").Pool(self.workers)
        return iter(self._pool.imap(fn, items))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool = None


def ray_address(address: str | None) -> str | None:
    """The cluster to join: the one given, else ``RAY_ADDRESS``, else None (``ray.init`` then
    joins the latest ``ray start`` cluster on this machine, or starts one)."""
    return address or os.environ.get("RAY_ADDRESS") or None


def _run_located(fn: Callable[[Any], Any], item: Any) -> tuple[str, Any]:
    """The task body on a Ray worker: the result, with the node that computed it."""
    import ray

    return ray.get_runtime_context().get_node_id(), fn(item)


class RayExecutor:
    """One Ray task per item, on whichever nodes have a free CPU (spread across the cluster).

    A task whose worker process or node dies is retried up to ``max_retries`` times; since the
    tasks here are deterministic, a retried one returns what the first would have.  At most
    ``max_in_flight`` tasks (default: twice the cluster's CPUs) are out at once, so results
    waiting behind a slow one stay bounded.  ``nodes`` counts the tasks each node ran.  A process
    already joined to a cluster keeps that connection (``address`` is then unused) and keeps it
    open on ``close``; one this executor opened is shut down.
    """

    name = "ray"
    in_process = False

    def __init__(self, address: str | None = None, *, max_retries: int = 3, max_in_flight: int | None = None) -> None:
        self.ray = _import_ray()
        self.address = ray_address(address)
        self.max_retries = max_retries
        self.nodes: Counter[str] = Counter()
        self._owns_connection = not self.ray.is_initialized()
        if self._owns_connection:
            _connect(self.ray, self.address)
        cpus = int(self.ray.cluster_resources().get("CPU", 1))
        self.max_in_flight = max_in_flight or max(2, 2 * cpus)

    def map_ordered(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[R]:
        ray = self.ray
        task = ray.remote(_run_located).options(max_retries=self.max_retries, scheduling_strategy="SPREAD", num_cpus=1)
        fn_ref = ray.put(fn)
        index_of: dict[Any, int] = {}
        done: dict[int, R] = {}
        submitted = yielded = 0
        try:
            while yielded < len(items):
                while submitted < len(items) and submitted - yielded < self.max_in_flight:
                    index_of[task.remote(fn_ref, items[submitted])] = submitted
                    submitted += 1
                ready, _ = ray.wait(list(index_of), num_returns=1)
                for ref in ready:
                    node, result = ray.get(ref)
                    self.nodes[node] += 1
                    done[index_of.pop(ref)] = result
                while yielded in done:
                    yield done.pop(yielded)
                    yielded += 1
        finally:  # a reader that stops early (an error while writing) leaves no task running
            for ref in index_of:
                ray.cancel(ref)

    def close(self) -> None:
        if self._owns_connection and self.ray.is_initialized():
            self.ray.shutdown()


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise HoloBenchError(f"--executor ray needs Ray, which is not installed: {RAY_INSTALL_HINT}") from None
    return ray


def _check_reachable(address: str, timeout: float = 10.0) -> None:
    """Fail fast on a ``host:port`` nothing answers at: Ray itself retries for minutes."""
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit():
        return  # "auto", or a form Ray resolves itself
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        raise HoloBenchError(f"cannot reach the Ray cluster at {address}: {exc.strerror or exc}") from None


def _connect(ray: Any, address: str | None) -> None:
    """Join the cluster at ``address``, or start one on this machine when there is none."""
    if address is not None:
        _check_reachable(address)
    # A cluster started here gets no dashboard; one joined keeps its own settings (Ray refuses them).
    local = {"include_dashboard": False} if address is None else {}
    try:
        ray.init(address=address, log_to_driver=False, logging_level="WARNING", **local)
    except (ConnectionError, TimeoutError, RuntimeError) as exc:
        where = f"the Ray cluster at {address}" if address else "a local Ray cluster"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise HoloBenchError(f"cannot reach {where}: {first}") from None


#: Executors by the name ``--executor`` takes: a factory of (local workers, Ray address).
EXECUTORS: dict[str, Callable[[int, str | None], Executor]] = {
    "local": lambda workers, _address: LocalExecutor(workers),
    "ray": lambda _workers, address: RayExecutor(address),
}


def open_executor(name: str, *, workers: int = 1, address: str | None = None) -> Executor:
    """The executor ``--executor NAME`` asks for; close it when done."""
    if name not in EXECUTORS:
        raise HoloBenchError(f"--executor {name!r}: use one of {', '.join(EXECUTORS)}")
    return EXECUTORS[name](workers, address)
