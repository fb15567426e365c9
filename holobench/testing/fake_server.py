"""A small OpenAI-compatible chat server for loopback tests and benchmarks, with fault injection.

It answers ``POST /v1/chat/completions``, ``POST /v1/completions`` and ``GET /v1/models`` on 127.0.0.1 only.  Faults are
scripted per prompt: ``plan(prompt, attempt) -> Fault`` decides, for the n-th request carrying a
prompt, whether to answer, answer late, fail with a status (and a Retry-After), drop the
connection, or send a malformed body.  Run it alone with
``python -m holobench.testing.fake_server --port 8011 --latency 0.2``.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import hashlib
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Fault:
    kind: str = "ok"  # ok | status | drop | malformed | slow
    status: int = 200
    retry_after: float | None = None
    delay: float = 0.0
    body: str = ""
    raw: bool = False  # send ``body`` as it is (plain text, or a server's own JSON shape)


def answer_for(prompt: str) -> str:
    """The deterministic reply to a prompt, so tests can check who got which answer."""
    return "Final answer: " + hashlib.sha256(prompt.encode("utf-8")).hexdigest()[:10]


@dataclass
class ServerState:
    latency: float = 0.0
    plan: Callable[[str, int], Fault] = lambda prompt, attempt: Fault()
    reply: Callable[[str], str] = answer_for
    finish: Callable[[str], str] = lambda prompt: "stop"  # "length": a reply cut at max_tokens
    context_window: int | None = None
    attempts: dict[str, int] = field(default_factory=dict)
    log: list[tuple[float, str, str]] = field(default_factory=list)  # (time, prompt hash, outcome)
    headers: list[dict[str, str]] = field(default_factory=list)
    requests: list[tuple[str, bytes]] = field(default_factory=list)  # (request target, body)
    in_flight: int = 0  # chat and completion requests read and not yet answered
    max_in_flight: int = 0  # the most there ever were at once: what a shared bound must cap
    lock: threading.Lock = field(default_factory=threading.Lock)


class FakeOpenAIServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512

    def __init__(self, state: ServerState | None = None, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.state = state or ServerState()
        self._thread: threading.Thread | None = None

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that time out or drop connections are part of the tests: stay quiet."""

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def start(self) -> FakeOpenAIServer:
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: FakeOpenAIServer
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        return

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without TCP_NODELAY, Nagle's algorithm and the
        # client's delayed ACK add ~40 ms to every response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _send(self, status: int, payload: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:
        card: dict[str, Any] = {"id": "fake-model", "object": "model", "created": 0, "owned_by": "holobench"}
        if self.server.state.context_window:
            card["max_model_len"] = self.server.state.context_window
        self._send(200, json.dumps({"object": "list", "data": [card]}).encode())

    def do_POST(self) -> None:
        state = self.server.state
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        body = json.loads(raw or b"{}")
        prompt = prompt_of(body)
        key = hashlib.sha256(prompt.encode("utf-8")).hexdigest()[:10]
        with state.lock:
            attempt = state.attempts.get(key, 0)
            state.attempts[key] = attempt + 1
            state.headers.append({k.lower(): v for k, v in self.headers.items()})
            state.requests.append((self.path, raw))
            state.in_flight += 1
            state.max_in_flight = max(state.max_in_flight, state.in_flight)
        try:
            self._answer(state, body, prompt, key, attempt)
        finally:
            with state.lock:
                state.in_flight -= 1

    def _answer(self, state: ServerState, body: dict[str, Any], prompt: str, key: str, attempt: int) -> None:
        fault = state.plan(prompt, attempt)
        if state.latency:
            time.sleep(state.latency)
        with state.lock:
            state.log.append((time.monotonic(), key, fault.kind if fault.kind != "status" else str(fault.status)))
        if fault.kind == "drop":
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if fault.kind == "slow":
            time.sleep(fault.delay)
        if fault.kind == "malformed":
            self._send(200, b'{"id": "x", "choices": [ {"message": ')
            return
        if fault.kind == "status":
            headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
            error = {"error": {"message": fault.body or f"fault {fault.status}", "type": "fake", "code": fault.status}}
            self._send(fault.status, fault.body.encode() if fault.raw else json.dumps(error).encode(), headers)
            return
        self._send(200, completion_body(body, prompt, state.reply(prompt), f"chatcmpl-{key}", state.finish(prompt)))


def prompt_of(request: dict[str, Any]) -> str:
    """The text asked: a /v1/completions ``prompt``, or the chat messages joined."""
    if isinstance(request.get("prompt"), str):
        return str(request["prompt"])
    return "\n".join(m.get("content", "") for m in request.get("messages", []))


def completion_body(
    request: dict[str, Any], prompt: str, text: str, completion_id: str, finish_reason: str = "stop"
) -> bytes:
    """A chat.completion answering ``request`` with ``text``; usage counts four characters a token."""
    n_prompt, n_text = max(1, len(prompt) // 4), max(1, len(text) // 4)
    return json.dumps(
        {
            "id": completion_id,
            "object": "text_completion" if "prompt" in request else "chat.completion",
            "created": 0,
            "model": request.get("model", "fake-model"),
            "choices": [
                {"index": 0, "text": text, "finish_reason": finish_reason}
                if "prompt" in request  # /v1/completions
                else {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish_reason}
            ],
            "usage": {"prompt_tokens": n_prompt, "completion_tokens": n_text, "total_tokens": n_prompt + n_text},
        }
    ).encode()


def _bench_reply(body: bytes) -> bytes:
    """The chat.completion for one request body (the same answer as the threaded server)."""
    request = json.loads(body or b"{}")
    prompt = prompt_of(request)
    return completion_body(request, prompt, answer_for(prompt), "chatcmpl-bench")


_MODELS = json.dumps({"object": "list", "data": [{"id": "fake-model", "object": "model"}]}).encode()
_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 411: "Length Required"}


class _BenchProtocol(asyncio.Protocol):
    """HTTP/1.1 keep-alive on a bare asyncio protocol, for throughput benchmarks.

    A real endpoint's CPU lives on another machine; here the server shares the runner's cores,
    so it does as little as it can per request (about a tenth of a framework's cost) and answers
    chat requests ``latency`` seconds after the whole request has arrived, with a timer rather
    than a task.  Answers on one connection leave in request order (pipelining), a malformed
    request gets a 400 and the connection closed, HTTP/1.0 closes unless asked to keep alive,
    and ``Expect: 100-continue`` is honoured.
    """

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.loop = asyncio.get_running_loop()
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.closing = False
        self.continued = False  # "100 Continue" sent for the request being read
        self.queue: collections.deque[tuple[float, bytes, bool]] = collections.deque()  # (due, reply, close)
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc: BaseException | None) -> None:
        self.transport = None
        if self.timer is not None:
            self.timer.cancel()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while not self.closing:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            lines = bytes(self.buffer[:head_end]).decode("latin-1").split("\r\n")
            method, target, version = [*lines[0].split(" "), "", "", ""][:3]
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            connection = headers.get("connection", "").lower()
            close = connection == "close" or (version == "HTTP/1.0" and connection != "keep-alive")
            length_text = headers.get("content-length", "0") or "0"
            if "chunked" in headers.get("transfer-encoding", "").lower():
                self._reply(411, b'{"error": {"message": "send a Content-Length"}}', close=True)
                return
            if not length_text.isdigit():
                self._reply(400, b'{"error": {"message": "bad Content-Length"}}', close=True)
                return
            length = int(length_text)
            if len(self.buffer) < head_end + 4 + length:
                if headers.get("expect", "").lower() == "100-continue" and not self.continued and self.transport:
                    self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                    self.continued = True
                return
            self.continued = False
            body = bytes(self.buffer[head_end + 4 : head_end + 4 + length])
            del self.buffer[: head_end + 4 + length]
            path = target.split("?", 1)[0]
            if method == "POST" and path in ("/v1/chat/completions", "/v1/completions"):
                try:
                    self._reply(200, _bench_reply(body), close, self.latency)
                except (ValueError, AttributeError, TypeError):
                    self._reply(400, b'{"error": {"message": "not a chat request"}}', close, self.latency)
            elif method == "GET" and path == "/v1/models":
                self._reply(200, _MODELS, close)
            else:
                self._reply(404, b'{"error": {"message": "not found"}}', close)

    def _reply(self, status: int, payload: bytes, close: bool = False, delay: float = 0.0) -> None:
        """Queue an answer due ``delay`` from now, but never before the ones queued ahead of it."""
        head = (
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n{'Connection: close' if close else 'Connection: keep-alive'}\r\n\r\n"
        )
        due = self.loop.time() + delay
        if self.queue:
            due = max(due, self.queue[-1][0])
        self.queue.append((due, head.encode("latin-1") + payload, close))
        self.closing = self.closing or close
        if self.timer is None:
            self._send_due()

    def _send_due(self) -> None:
        self.timer = None
        now = self.loop.time()
        while self.queue and self.queue[0][0] <= now:
            _, reply, close = self.queue.popleft()
            if self.transport is None or self.transport.is_closing():
                self.queue.clear()
                return
            self.transport.write(reply)
            if close:
                self.transport.close()
                self.queue.clear()
                return
        if self.queue:
            self.timer = self.loop.call_at(self.queue[0][0], self._send_due)


def serve_async(port: int, latency: float, ready: Callable[[str], None] | None = None) -> None:
    """A single-threaded asyncio server without faults, for throughput benchmarks: thousands of
    concurrent requests wait on one event loop (timers, not threads or tasks)."""

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: _BenchProtocol(latency), "127.0.0.1", port, backlog=4096)
        bound = server.sockets[0].getsockname()[1]
        (ready or (lambda url: print(f"serving {url}", flush=True)))(f"http://127.0.0.1:{bound}/v1")
        async with server:
            await server.serve_forever()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


def main() -> None:
    parser = argparse.ArgumentParser(description="Loopback OpenAI-compatible server for tests and benchmarks.")
    parser.add_argument("--port", type=int, default=8011)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument(
        "--asyncio", action="store_true", help="single-threaded asyncio server without faults (benchmarks)"
    )
    args = parser.parse_args()
    if args.asyncio:
        serve_async(args.port, args.latency)
        return
    server = FakeOpenAIServer(ServerState(latency=args.latency), port=args.port)
    print(f"serving {server.base_url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
