"""The vLLM offline backend against a stand-in ``vllm`` module (vLLM itself needs a CUDA GPU):
``tests/vllm_stand_in.py``, shared with the Ray replica tests."""

from __future__ import annotations

import asyncio
import json
import sys
import threading
from typing import Any

import pytest

from holobench.backends import (
    BackendError,
    BackendOptions,
    ChatMessage,
    ChatRequest,
    Completion,
    ContextLengthError,
    SamplingParams,
    create_backend,
)
from holobench.backends.vllm import VLLMBackend, create
from holobench.errors import HoloBenchError
from tests.vllm_stand_in import MODEL_MAX_LEN, Calls, count_tokens, make_vllm

MODEL = "Qwen/Qwen3-8B"


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Calls:
    recorded = Calls()
    monkeypatch.setitem(sys.modules, "vllm", make_vllm(recorded))
    return recorded


def backend(**options: str) -> VLLMBackend:
    made = create_backend("vllm", BackendOptions(model=MODEL, options=options))
    assert isinstance(made, VLLMBackend)
    return made


def request(question: str, *, context: str = "", max_tokens: int = 64, temperature: float = 0.0) -> ChatRequest:
    return ChatRequest(
        instance_id=question,
        messages=(
            ChatMessage(role="system", content="Answer from the context."),
            ChatMessage(role="user", content=f"{context} {question}".strip()),
        ),
        sampling=SamplingParams(temperature=temperature, max_tokens=max_tokens, seed=7, stop=("###",)),
        prompt="cot",
    )


def done(result: Completion | BackendError) -> Completion:
    assert isinstance(result, Completion), result
    return result


# ---------------------------------------------------------------------------------- construction
def test_constructor_kwargs_follow_the_documented_api(calls: Calls) -> None:
    b = backend(
        tensor_parallel_size="2",
        max_model_len="70000",
        enable_prefix_caching="false",
        gpu_memory_utilization="0.85",
        dtype="bfloat16",
        batch_size="8",
    )
    assert calls.llm_init == [
        {
            "model": MODEL,
            "trust_remote_code": False,
            "tensor_parallel_size": 2,
            "dtype": "bfloat16",
            "gpu_memory_utilization": 0.85,
            "max_model_len": 70000,
            "enable_prefix_caching": False,
            "hf_overrides": None,
        }
    ]
    assert b.context_window == 70000
    assert b.batch_size == 8
    assert b.settings() == {
        "backend": "vllm",
        "model": MODEL,
        "tensor_parallel_size": 2,
        "max_model_len": 70000,
        "enable_prefix_caching": False,
        "dtype": "bfloat16",
    }


def test_defaults_and_the_model_context_window(calls: Calls) -> None:
    b = backend()
    (init,) = calls.llm_init
    assert init["tensor_parallel_size"] == 1
    assert init["enable_prefix_caching"] is True
    assert init["gpu_memory_utilization"] == 0.9
    assert init["dtype"] == "auto"
    assert init["max_model_len"] is None  # left to vLLM, which reads the model's config
    assert b.context_window == MODEL_MAX_LEN
    assert b.batch_size == 256
    assert b.model == MODEL
    assert b.prefers_batches  # the runner sends whole batches through Client.complete_batch


def test_context_window_flag_is_the_default_max_model_len(calls: Calls) -> None:
    b = create_backend("vllm", BackendOptions(model=MODEL, context_window=32000))
    assert calls.llm_init[0]["max_model_len"] == 32000
    assert b.context_window == 32000


def test_hf_overrides_enable_yarn_and_enter_the_settings(calls: Calls) -> None:
    yarn = {"rope_parameters": {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768}}
    b = backend(max_model_len="70000", hf_overrides=json.dumps(yarn))
    assert calls.llm_init[0]["hf_overrides"] == yarn
    assert calls.llm_init[0]["max_model_len"] == 70000
    assert b.settings()["hf_overrides"] == yarn
    assert "hf_overrides" not in backend().settings()
    with pytest.raises(HoloBenchError, match="hf_overrides"):
        backend(hf_overrides="[1, 2]")
    with pytest.raises(HoloBenchError, match="hf_overrides"):
        backend(hf_overrides="{not json")


def test_bad_options_are_clear_errors(calls: Calls) -> None:
    with pytest.raises(HoloBenchError, match="tensor_parallel_size"):
        backend(tensor_parallel_size="two")
    with pytest.raises(HoloBenchError, match="batch_size"):
        backend(batch_size="0")
    with pytest.raises(HoloBenchError, match="gpu_memory_utilization"):
        backend(gpu_memory_utilization="1.5")
    with pytest.raises(BackendError, match="--model"):
        create_backend("vllm", BackendOptions())


def test_stand_in_rejects_misspelled_keywords(calls: Calls) -> None:
    vllm: Any = sys.modules["vllm"]
    with pytest.raises(TypeError):
        vllm.LLM(model=MODEL, max_model_length=10)
    with pytest.raises(TypeError):
        vllm.SamplingParams(max_new_tokens=10)


# ---------------------------------------------------------------------------------- generation
def test_batch_groups_by_sampling_chunks_and_keeps_order(calls: Calls) -> None:
    b = backend(batch_size="2")
    requests = [
        request("q0"),
        request("q1", temperature=0.7),
        request("q2"),
        request("q3"),
        request("q4", temperature=0.7),
    ]
    results = asyncio.run(b.generate_batch(requests))
    assert [done(r).text for r in results] == [f"answer: q{i}" for i in range(5)]

    # greedy group [q0, q2, q3] in chunks of 2, then the sampled group [q1, q4]
    asked = [[conv[-1]["content"] for conv in call["messages"]] for call in calls.chat]
    assert asked == [["q0", "q2"], ["q3"], ["q1", "q4"]]
    for call in calls.chat:
        assert call["use_tqdm"] is False
        for conversation in call["messages"]:
            assert conversation == [
                {"role": "system", "content": "Answer from the context."},
                {"role": "user", "content": conversation[-1]["content"]},
            ]
            assert all(type(m) is dict and set(m) == {"role", "content"} for m in conversation)
    assert calls.sampling == [
        {"temperature": 0.0, "top_p": 1.0, "seed": 7, "stop": ["###"], "max_tokens": 64},
        {"temperature": 0.7, "top_p": 1.0, "seed": 7, "stop": ["###"], "max_tokens": 64},
    ]
    assert calls.chat[0]["sampling_params"].kwargs["temperature"] == 0.0
    assert calls.chat[2]["sampling_params"].kwargs["temperature"] == 0.7
    # prompt tokens are counted with the chat template, as documented, before anything is sent
    assert calls.template == [{"add_generation_prompt": True, "tokenize": True, "return_dict": False}] * 5


def test_over_length_prompts_come_back_as_context_length_errors_without_being_sent(calls: Calls) -> None:
    b = backend(max_model_len="100")
    fits = request("short")  # 2 + 4 + 2 + 1 + 1 = 10 tokens
    too_long = request("long", context="word " * 200)
    # fits in 100 alone, but not with room for 64 new tokens
    no_room = request("tight", context="word " * 50)
    results = asyncio.run(b.generate_batch([too_long, fits, no_room]))
    assert isinstance(results[0], ContextLengthError)
    assert results[0].kind == "context_length" and not results[0].retryable
    assert "max_model_len=100" in str(results[0])
    assert done(results[1]).text == "answer: short"
    assert isinstance(results[2], ContextLengthError)
    sent = [conv[-1]["content"] for call in calls.chat for conv in call["messages"]]
    assert sent == ["short"]


def test_all_over_length_sends_nothing(calls: Calls) -> None:
    b = backend(max_model_len="50")
    results = asyncio.run(b.generate_batch([request("x", context="word " * 100)]))
    assert isinstance(results[0], ContextLengthError)
    assert calls.chat == []
    assert asyncio.run(b.generate_batch([])) == []


def test_usage_finish_reason_and_model_are_mapped(calls: Calls) -> None:
    b = backend()
    short, rambling = asyncio.run(b.generate_batch([request("q"), request("RAMBLE on", max_tokens=32)]))
    short, rambling = done(short), done(rambling)
    n = count_tokens([{"role": "system", "content": "Answer from the context."}, {"role": "user", "content": "q"}])
    assert short.finish_reason == "stop"
    assert (short.usage.prompt_tokens, short.usage.completion_tokens) == (n, 3)
    assert short.model == MODEL
    assert short.usage.cached_prompt_tokens == n // 2 and short.extra == {}
    assert rambling.finish_reason == "length"
    assert rambling.usage.completion_tokens == 32


def test_generate_is_a_batch_of_one(calls: Calls) -> None:
    b = backend(max_model_len="100")
    assert asyncio.run(b.generate(request("one"))).text == "answer: one"
    with pytest.raises(ContextLengthError):
        asyncio.run(b.generate(request("big", context="word " * 200)))
    assert len(calls.chat) == 1


def test_chat_runs_in_a_worker_thread_and_the_loop_stays_free(monkeypatch: pytest.MonkeyPatch) -> None:
    recorded = Calls()
    released = threading.Event()

    def block_until_the_loop_runs(messages: Any) -> None:
        # if chat() ran on the event loop, the ticker could never set the event
        assert released.wait(timeout=5), "the event loop was blocked while LLM.chat ran"

    monkeypatch.setitem(sys.modules, "vllm", make_vllm(recorded, chat_hook=block_until_the_loop_runs))
    b = backend()

    async def main() -> list[Completion | BackendError]:
        async def ticker() -> None:
            await asyncio.sleep(0.01)
            released.set()

        results, _ = await asyncio.gather(b.generate_batch([request("q")]), ticker())
        return results

    results = asyncio.run(main())
    assert done(results[0]).text == "answer: q"
    assert recorded.chat_threads and recorded.chat_threads[0] != threading.get_ident()


def test_concurrent_generate_calls_do_not_overlap(monkeypatch: pytest.MonkeyPatch) -> None:
    recorded = Calls()
    active = 0
    peak = 0
    guard = threading.Lock()

    def track(messages: Any) -> None:
        nonlocal active, peak
        with guard:
            active += 1
            peak = max(peak, active)
        threading.Event().wait(0.02)
        with guard:
            active -= 1

    monkeypatch.setitem(sys.modules, "vllm", make_vllm(recorded, chat_hook=track))
    b = backend()

    async def main() -> list[Completion]:
        return list(await asyncio.gather(*(b.generate(request(f"q{i}")) for i in range(4))))

    assert [c.text for c in asyncio.run(main())] == [f"answer: q{i}" for i in range(4)]
    assert peak == 1


def test_a_rejected_chunk_fails_only_its_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    recorded = Calls()

    def reject_poison(messages: Any) -> None:
        if any("poison" in conv[-1]["content"] for conv in messages):
            raise ValueError("bad request")

    monkeypatch.setitem(sys.modules, "vllm", make_vllm(recorded, chat_hook=reject_poison))
    b = backend(batch_size="1")
    ok, bad = asyncio.run(b.generate_batch([request("fine"), request("poison")]))
    assert done(ok).text == "answer: fine"
    assert isinstance(bad, BackendError) and not isinstance(bad, ContextLengthError)
    assert "bad request" in str(bad)


def test_tokenizer_returning_a_dict_is_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "vllm", make_vllm(Calls(), tokenizer_always_dict=True))
    b = backend(max_model_len="100")
    fits, too_long = asyncio.run(b.generate_batch([request("q"), request("x", context="word " * 200)]))
    assert done(fits).text == "answer: q"
    assert isinstance(too_long, ContextLengthError)


# ---------------------------------------------------------------------------------- installation
def test_without_vllm_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "vllm", None)  # makes `import vllm` raise ImportError
    with pytest.raises(HoloBenchError, match=r"pip install 'holobench\[vllm\]'"):
        create_backend("vllm", BackendOptions(model=MODEL))
    with pytest.raises(HoloBenchError, match=r"pip install 'holobench\[vllm\]'"):
        create(BackendOptions(model=MODEL))
