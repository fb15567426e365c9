"""A small OpenAI-compatible chat server for loopback tests and benchmarks, with fault injection.

It answers ``POST /v1/chat/completions`` and ``GET /v1/models`` on 127.0.0.1 only.  Faults are
scripted per prompt: ``plan(prompt, attempt) -> Fault`` decides, for the n-th request carrying a
prompt, whether to answer, answer late, fail with a status (and a Retry-After), drop the
connection, or send a malformed body.  Run it alone with
``python -m holobench.fake_server --port 8011 --latency 0.2``.
"""

from __future__ import annotations

import argparse
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


def answer_for(prompt: str) -> str:
    """The deterministic reply to a prompt, so tests can check who got which answer."""
    return "Final answer: " + hashlib.sha256(prompt.encode("utf-8")).hexdigest()[:10]


@dataclass
class ServerState:
    latency: float = 0.0
    plan: Callable[[str, int], Fault] = lambda prompt, attempt: Fault()
    reply: Callable[[str], str] = answer_for
    context_window: int | None = None
    attempts: dict[str, int] = field(default_factory=dict)
    log: list[tuple[float, str, str]] = field(default_factory=list)  # (time, prompt hash, outcome)
    headers: list[dict[str, str]] = field(default_factory=list)
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
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
        prompt = "\n".join(m.get("content", "") for m in body.get("messages", []))
        key = hashlib.sha256(prompt.encode("utf-8")).hexdigest()[:10]
        with state.lock:
            attempt = state.attempts.get(key, 0)
            state.attempts[key] = attempt + 1
            state.headers.append({k.lower(): v for k, v in self.headers.items()})
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
            self._send(fault.status, json.dumps(error).encode(), headers)
            return
        text = state.reply(prompt)
        payload = {
            "id": f"chatcmpl-{key}",
            "object": "chat.completion",
            "created": 0,
            "model": body.get("model", "fake-model"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {
                "prompt_tokens": max(1, len(prompt) // 4),
                "completion_tokens": max(1, len(text) // 4),
                "total_tokens": max(1, len(prompt) // 4) + max(1, len(text) // 4),
            },
        }
        self._send(200, json.dumps(payload).encode())


def serve_async(port: int, latency: float) -> None:
    """An asyncio (aiohttp) variant without faults, for throughput benchmarks: thousands of
    concurrent requests wait on one event loop instead of one thread each."""
    import asyncio

    from aiohttp import web

    async def chat(request: web.Request) -> web.Response:
        body = await request.json()
        prompt = "\n".join(m.get("content", "") for m in body.get("messages", []))
        await asyncio.sleep(latency)
        text = answer_for(prompt)
        n_prompt, n_text = max(1, len(prompt) // 4), max(1, len(text) // 4)
        return web.json_response(
            {
                "id": "chatcmpl-bench",
                "object": "chat.completion",
                "created": 0,
                "model": body.get("model", "fake-model"),
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": n_prompt, "completion_tokens": n_text, "total_tokens": n_prompt + n_text},
            }
        )

    async def models(request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": "fake-model", "object": "model"}]})

    app = web.Application(client_max_size=1 << 26)
    app.add_routes([web.post("/v1/chat/completions", chat), web.get("/v1/models", models)])
    print(f"serving http://127.0.0.1:{port}/v1", flush=True)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def main() -> None:
    parser = argparse.ArgumentParser(description="Loopback OpenAI-compatible server for tests and benchmarks.")
    parser.add_argument("--port", type=int, default=8011)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--asyncio", action="store_true", help="aiohttp server without faults (benchmarks)")
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
