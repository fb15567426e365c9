"""The benchmark's asyncio server (``python -m holobench.testing.fake_server --asyncio``): it must answer
like the threaded test server, keep connections alive, and wait its latency."""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from holobench.backends.base import ChatMessage, ChatRequest, SamplingParams
from holobench.backends.openai import TRANSPORTS, OpenAIBackend
from holobench.testing.fake_server import FakeOpenAIServer, Fault, ServerState, answer_for


@pytest.fixture(scope="module")
def bench_server() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    proc = subprocess.Popen(
        [sys.executable, "-m", "holobench.testing.fake_server", "--asyncio", "--port", str(port), "--latency", "0.1"],
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
        elapsed = time.monotonic() - start
        assert 0.1 <= elapsed < 1.5, elapsed  # each after the latency, all at once (one by one: 2 s)


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


def exchange(port: int, payload: bytes) -> list[tuple[int, dict[str, str], bytes]]:
    """Send raw bytes, read answers until the server closes or goes quiet for a second."""
    replies = []
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(payload)
        sock.settimeout(1.0)
        data = b""
        try:
            while chunk := sock.recv(65536):
                data += chunk
        except TimeoutError:
            pass
    while data:
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])}
        length = int(headers.get("content-length", "0"))
        replies.append((int(lines[0].split()[1]), headers, rest[:length]))
        data = rest[length:]
    return replies


def post(body: bytes, version: str = "HTTP/1.1", extra: str = "") -> bytes:
    return (
        f"POST /v1/chat/completions {version}\r\nHost: x\r\nContent-Length: {len(body)}\r\n{extra}\r\n".encode() + body
    )


def test_pipelined_answers_keep_request_order(bench_server: int) -> None:
    chat = json.dumps({"model": "m", "messages": [{"role": "user", "content": "first"}]}).encode()
    replies = exchange(bench_server, post(chat) + b"GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n")
    assert [status for status, _, _ in replies] == [200, 200]
    assert json.loads(replies[0][2])["choices"][0]["message"]["content"] == answer_for("first")
    assert json.loads(replies[1][2])["object"] == "list"


def test_malformed_requests_get_a_400_and_a_closed_connection(bench_server: int) -> None:
    bad = b"POST /v1/chat/completions HTTP/1.1\r\nContent-Length: ten\r\n\r\n" + b"GET /v1/models HTTP/1.1\r\n\r\n"
    replies = exchange(bench_server, bad)
    assert [(status, headers["connection"]) for status, headers, _ in replies] == [(400, "close")]
    chunked = b"POST /v1/chat/completions HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    assert [status for status, _, _ in exchange(bench_server, chunked)] == [411]


def test_http_1_0_closes_and_expect_continue_is_answered(bench_server: int) -> None:
    chat = json.dumps({"model": "m", "messages": [{"role": "user", "content": "old"}]}).encode()
    [(status, headers, _)] = exchange(bench_server, post(chat, "HTTP/1.0"))
    assert (status, headers["connection"]) == (200, "close")
    with socket.create_connection(("127.0.0.1", bench_server), timeout=5) as sock:
        sock.sendall(post(chat, extra="Expect: 100-continue\r\n")[: -len(chat)])
        assert sock.recv(1024).startswith(b"HTTP/1.1 100 Continue")
        sock.sendall(chat)
        assert b"200 OK" in sock.recv(65536)


def test_the_threaded_server_counts_requests_in_flight() -> None:
    """Three requests held together at a barrier: the most at once is three, and none is left."""
    barrier = threading.Barrier(3, timeout=60)

    def together(prompt: str, attempt: int) -> Fault:
        barrier.wait()
        return Fault()

    server = FakeOpenAIServer(ServerState(plan=together)).start()
    try:

        async def ask() -> list[str]:
            backend = OpenAIBackend("fake-model", server.base_url)
            try:
                requests = [
                    ChatRequest(f"q{i}", (ChatMessage(role="user", content=f"q{i}"),), SamplingParams(), "cot")
                    for i in range(3)
                ]
                return [c.text for c in await asyncio.gather(*(backend.generate(r) for r in requests))]
            finally:
                await backend.aclose()

        assert asyncio.run(ask()) == [answer_for(f"q{i}") for i in range(3)]
    finally:
        server.stop()
    assert (server.state.max_in_flight, server.state.in_flight) == (3, 0)
