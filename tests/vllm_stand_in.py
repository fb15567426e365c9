"""A stand-in ``vllm`` module (vLLM itself needs a CUDA GPU), shared by the vLLM backend's tests
and the Ray replica tests (whose workers import it as ``vllm`` from ``tests/stand_ins``).

It mirrors the documented vLLM v0.15 signatures with keyword-only parameters, so a misspelled
or undocumented keyword fails with TypeError, and it records every call.
"""

from __future__ import annotations

import threading
import types
from dataclasses import dataclass, field
from typing import Any

MODEL_MAX_LEN = 40960  # what the stand-in reports when max_model_len is not given


# ---------------------------------------------------------------------------------- the stand-in
@dataclass
class Calls:
    llm_init: list[dict[str, Any]] = field(default_factory=list)
    sampling: list[dict[str, Any]] = field(default_factory=list)
    template: list[dict[str, Any]] = field(default_factory=list)
    chat: list[dict[str, Any]] = field(default_factory=list)
    chat_threads: list[int] = field(default_factory=list)


def count_tokens(conversation: list[dict[str, str]]) -> int:
    """Stand-in chat template: 2 tokens per message plus one per word, plus 1 for the generation prompt."""
    return sum(2 + len(m["content"].split()) for m in conversation) + 1


def make_vllm(calls: Calls, *, chat_hook: Any = None, tokenizer_always_dict: bool = False) -> types.ModuleType:
    class FakeSamplingParams:
        def __init__(
            self,
            *,
            n: int = 1,
            temperature: float = 1.0,
            top_p: float = 1.0,
            top_k: int = 0,
            seed: int | None = None,
            stop: str | list[str] | None = None,
            max_tokens: int | None = 16,
        ) -> None:
            self.kwargs = {"temperature": temperature, "top_p": top_p, "seed": seed, "stop": stop}
            self.kwargs["max_tokens"] = max_tokens
            self.max_tokens = max_tokens
            calls.sampling.append(dict(self.kwargs))

    class FakeTokenizer:
        def apply_chat_template(
            self,
            conversation: list[dict[str, str]],
            *,
            tools: list[dict[str, Any]] | None = None,
            chat_template: str | None = None,
            add_generation_prompt: bool = False,
            continue_final_message: bool = False,
            tokenize: bool = True,
            return_dict: bool = True,  # the Transformers v5 default
        ) -> Any:
            calls.template.append(
                {"add_generation_prompt": add_generation_prompt, "tokenize": tokenize, "return_dict": return_dict}
            )
            assert tokenize and add_generation_prompt
            ids = list(range(count_tokens(conversation)))
            return {"input_ids": ids} if (return_dict or tokenizer_always_dict) else ids

    class FakeLLM:
        def __init__(
            self,
            model: str,
            *,
            tokenizer: str | None = None,
            trust_remote_code: bool = False,
            tensor_parallel_size: int = 1,
            dtype: str = "auto",
            seed: int = 0,
            gpu_memory_utilization: float = 0.9,
            # EngineArgs fields, which LLM takes through **kwargs
            max_model_len: int | None = None,
            enable_prefix_caching: bool | None = None,
            hf_overrides: dict[str, Any] | None = None,
        ) -> None:
            calls.llm_init.append(
                {
                    "model": model,
                    "trust_remote_code": trust_remote_code,
                    "tensor_parallel_size": tensor_parallel_size,
                    "dtype": dtype,
                    "gpu_memory_utilization": gpu_memory_utilization,
                    "max_model_len": max_model_len,
                    "enable_prefix_caching": enable_prefix_caching,
                    "hf_overrides": hf_overrides,
                }
            )
            model_config = types.SimpleNamespace(max_model_len=max_model_len or MODEL_MAX_LEN)
            self.llm_engine = types.SimpleNamespace(model_config=model_config)
            self._tokenizer = FakeTokenizer()

        def get_tokenizer(self) -> FakeTokenizer:
            return self._tokenizer

        def chat(
            self,
            messages: list[list[dict[str, str]]],
            *,
            sampling_params: FakeSamplingParams | None = None,
            use_tqdm: bool = True,
            chat_template: str | None = None,
            add_generation_prompt: bool = True,
        ) -> list[Any]:
            calls.chat.append({"messages": messages, "sampling_params": sampling_params, "use_tqdm": use_tqdm})
            calls.chat_threads.append(threading.get_ident())
            if chat_hook is not None:
                chat_hook(messages)
            assert sampling_params is not None
            limit = self.llm_engine.model_config.max_model_len
            outputs = []
            for conversation in messages:
                n = count_tokens(conversation)
                if n > limit:  # what vLLM does: the whole call fails
                    raise ValueError(f"The decoder prompt (length {n}) is longer than the maximum model length")
                question = conversation[-1]["content"]
                long = "RAMBLE" in question
                k = sampling_params.max_tokens if long else 3
                assert k is not None
                completion = types.SimpleNamespace(
                    index=0,
                    text=f"answer: {question}",
                    token_ids=list(range(k)),
                    finish_reason="length" if long else "stop",
                )
                outputs.append(
                    types.SimpleNamespace(
                        prompt_token_ids=list(range(n)), outputs=[completion], num_cached_tokens=n // 2
                    )
                )
            return outputs

    module = types.ModuleType("vllm")
    module.LLM = FakeLLM  # type: ignore[attr-defined]
    module.SamplingParams = FakeSamplingParams  # type: ignore[attr-defined]
    return module
