"""The benchmark's asyncio server (``python -m holobench.fake_server --asyncio``): it must answer
like the threaded test server, keep connections alive, and wait its latency."""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from holobench.backends.base import ChatMessage, ChatRequest, SamplingParams
from holobench.backends.openai import TRANSPORTS, OpenAIBackend
from holobench.fake_server import answer_for


@pytest.fixture(scope="module")
def bench_server() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    proc = subprocess.Popen(
        [sys.executable, "-m", "holobench.fake_server", "--asyncio", "--port", str(port), "--latency", "0.1"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == f"serving http://127.0.0.1:{port}/v1"
    yield port
    proc.terminate()
    proc.wait(timeout=10)


def test_chat_answers_match_the_test_server_and_wait_the_latency(bench_server: int) -> None:
    async def ask(transport: str) -> list[str]:
        backend = OpenAIBackend("fake-model", f"http://127.0.0.1:{bench_server}/v1", transport=transport)
        try:
            requests = [
                ChatRequest(f"q{i}", (ChatMessage(role="user", content=f"prompt {i} ✓"),), SamplingParams(), "cot")
                for i in range(20)
            ]
            completions = await asyncio.gather(*(backend.generate(r) for r in requests))
        finally:
            await backend.aclose()
        assert all(c.usage.prompt_tokens > 0 and c.finish_reason == "stop" for c in completions)
        return [c.text for c in completions]

    for transport in TRANSPORTS:
        start = time.monotonic()
        assert asyncio.run(ask(transport)) == [answer_for(f"prompt {i} ✓") for i in range(20)]
        assert time.monotonic() - start >= 0.1  # all twenty at once, each after the latency


def test_keep_alive_models_and_unknown_paths(bench_server: int) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", bench_server, timeout=10)
    try:
        conn.request("GET", "/v1/models")
        reply = conn.getresponse()
        assert reply.status == 200 and json.loads(reply.read())["data"][0]["id"] == "fake-model"
        body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
        for _ in range(3):  # the same connection, three times
            conn.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
            reply = conn.getresponse()
            assert reply.status == 200
            assert json.loads(reply.read())["choices"][0]["message"]["content"] == answer_for("hi")
        conn.request("POST", "/v1/chat/completions", "not json", {"Content-Type": "application/json"})
        reply = conn.getresponse()
        assert reply.status == 400 and reply.read()
        conn.request("GET", "/v1/nothing")
        reply = conn.getresponse()
        assert reply.status == 404 and reply.read()
    finally:
        conn.close()
