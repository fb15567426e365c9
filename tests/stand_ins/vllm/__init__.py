"""``vllm`` for Ray test workers: the stand-in of ``tests/vllm_stand_in.py``, found first on the
path the Ray tests give their nodes (this folder, through PYTHONPATH).  Like vLLM, an engine
refuses to start with fewer visible GPUs than its tensor-parallel size, so a replica placed
without its GPUs fails as it would on a real cluster."""

from __future__ import annotations

import os
from typing import Any

from tests.vllm_stand_in import Calls, make_vllm

calls = Calls()
_module = make_vllm(calls)
_LLM: Any = _module.LLM  # type: ignore[attr-defined]
SamplingParams: Any = _module.SamplingParams  # type: ignore[attr-defined]


class LLM(_LLM):  # type: ignore[misc]
    def __init__(self, model: str, **kwargs: Any) -> None:
        visible = [device for device in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if device]
        wanted = int(kwargs.get("tensor_parallel_size", 1))
        if len(visible) < wanted:
            raise RuntimeError(f"tensor_parallel_size={wanted} needs {wanted} GPUs; {len(visible)} visible")
        self.visible_devices = tuple(visible)
        super().__init__(model, **kwargs)
