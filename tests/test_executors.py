"""Executors without Ray: the local one keeps input order, the registry and the address rule."""

from __future__ import annotations

import pytest

from holobench.errors import HoloBenchError
from holobench.executors import LocalExecutor, open_executor, ray_address


@pytest.mark.parametrize("workers", [1, 2])
def test_local_results_come_in_input_order(workers: int) -> None:
    executor = LocalExecutor(workers)
    try:
        assert executor.in_process is (workers == 1)
        assert list(executor.map_ordered(abs, [-3, 1, -2, 5, -4])) == [3, 1, 2, 5, 4]
    finally:
        executor.close()


def test_an_unknown_executor_names_the_choices() -> None:
    with pytest.raises(HoloBenchError, match=r"--executor 'slurm': use one of local, ray"):
        open_executor("slurm")


def test_the_address_comes_from_the_option_then_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    assert ray_address(None) is None
    monkeypatch.setenv("RAY_ADDRESS", "head:6379")
    assert ray_address(None) == "head:6379"
    assert ray_address("other:6379") == "other:6379"
