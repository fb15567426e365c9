"""A loopback server for provider batch APIs, for tests: OpenAI Files + Batches and Anthropic
Message Batches, as the official SDKs call them.

OpenAI: ``POST /v1/files`` (multipart JSONL upload), ``GET /v1/files/{id}/content``,
``POST /v1/batches``, ``GET /v1/batches/{id}``, ``POST /v1/batches/{id}/cancel``, and
``POST /v1/chat/completions`` for single requests.  Anthropic: ``POST /v1/messages/batches``,
``GET /v1/messages/batches/{id}``, ``GET /v1/messages/batches/{id}/results`` (JSONL) and
``POST /v1/messages``.  Every batch answers ``in_progress`` to its first ``polls`` retrievals,
then ends as ``outcome(n)`` says for the n-th batch created:

* ``completed``: every request answered, except those ``fails(prompt)`` picks (a partially
  failed batch: those get a per-request error);
* ``expired``: the first half answered, the rest not run (OpenAI ``batch_expired`` error lines,
  Anthropic ``expired`` results);
* ``failed``: OpenAI fails the batch in validation (nothing run); Anthropic refuses to create it
  (400), as each provider does;
* ``cancelled``: ended by a cancel, nothing run.

Answers are :func:`answer_for` the prompt, so a test knows who got which answer, and usage
reports ``cached(prompt)`` prompt tokens as read from the prompt cache.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from holobench.testing.fake_server import answer_for, completion_body, prompt_of


@dataclass
class BatchServerState:
    key: str | None = None  # when set, requests without it get a 401
    polls: int = 0
    outcome: Callable[[int], str] = lambda n: "completed"
    fails: Callable[[str], bool] = lambda prompt: False
    cached: Callable[[str], int] = lambda prompt: 0
    files: dict[str, bytes] = field(default_factory=dict)
    batches: dict[str, dict[str, Any]] = field(default_factory=dict)
    entries: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # batch id -> its requests
    seen: list[tuple[str, str]] = field(default_factory=list)  # (method, path)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def created(self, provider: str) -> list[str]:
        return [k for k, b in self.batches.items() if b["provider"] == provider]


class FakeBatchServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: BatchServerState | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state or BatchServerState()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients killed mid-request are part of the tests: stay quiet."""

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def start(self) -> FakeBatchServer:
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


def _anthropic_message(params: dict[str, Any], state: BatchServerState, mid: str) -> dict[str, Any]:
    prompt = "\n".join(str(m.get("content", "")) for m in params.get("messages", []))
    n_prompt = max(1, len(prompt) // 4)
    cached = min(state.cached(prompt), n_prompt)
    text = answer_for(prompt)
    return {
        "id": mid,
        "type": "message",
        "role": "assistant",
        "model": params.get("model", "fake-claude"),
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": n_prompt - cached,
            "output_tokens": max(1, len(text) // 4),
            "cache_read_input_tokens": cached,
            "cache_creation_input_tokens": 0,
        },
    }


def _openai_answer(body: dict[str, Any], state: BatchServerState, rid: str) -> dict[str, Any]:
    prompt = prompt_of(body)
    answer: dict[str, Any] = json.loads(completion_body(body, prompt, answer_for(prompt), rid))
    cached = min(state.cached(prompt), answer["usage"]["prompt_tokens"])
    answer["usage"]["prompt_tokens_details"] = {"cached_tokens": cached}
    return answer


class _Handler(BaseHTTPRequestHandler):
    server: FakeBatchServer
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        return

    def _send(self, status: int, payload: Any, content_type: str = "application/json") -> None:
        raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _error(self, status: int, message: str, kind: str = "invalid_request_error") -> None:
        self._send(status, {"type": "error", "error": {"type": kind, "message": message}})

    def _authorised(self) -> bool:
        key = self.server.state.key
        if key is None:
            return True
        sent = self.headers.get("x-api-key") or self.headers.get("authorization", "").removeprefix("Bearer ")
        return sent == key

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))

    def do_GET(self) -> None:
        self._route("GET", b"")

    def do_POST(self) -> None:
        self._route("POST", self._body())

    def _route(self, method: str, body: bytes) -> None:
        state = self.server.state
        path = self.path.split("?", 1)[0]
        with state.lock:
            state.seen.append((method, path))
        if not self._authorised():
            self._error(401, "invalid x-api-key", "authentication_error")
            return
        parts = path.strip("/").split("/")
        routes: dict[tuple[str, tuple[str, ...]], Callable[[], None]] = {
            ("POST", ("v1", "files")): lambda: self._upload(body),
            ("POST", ("v1", "batches")): lambda: self._openai_create(json.loads(body)),
            ("POST", ("v1", "chat", "completions")): lambda: self._send(
                200, _openai_answer(json.loads(body), state, "chatcmpl-direct")
            ),
            ("POST", ("v1", "messages", "batches")): lambda: self._anthropic_create(json.loads(body)),
            ("POST", ("v1", "messages")): lambda: self._send(
                200, _anthropic_message(json.loads(body), state, "msg-direct")
            ),
        }
        if (method, tuple(parts)) in routes:
            routes[method, tuple(parts)]()
        elif method == "GET" and parts[:2] == ["v1", "files"] and parts[-1] == "content" and len(parts) == 4:
            self._file(parts[2])
        elif parts[:2] == ["v1", "batches"] and len(parts) >= 3:
            self._openai_batch(parts[2], cancel=method == "POST" and parts[-1] == "cancel")
        elif method == "GET" and parts[:3] == ["v1", "messages", "batches"] and len(parts) >= 4:
            self._anthropic_batch(parts[3], results=parts[-1] == "results")
        else:
            self._error(404, f"no route {method} {path}", "not_found_error")

    # ------------------------------------------------------------------ OpenAI
    def _upload(self, body: bytes) -> None:
        head = f"Content-Type: {self.headers.get('Content-Type', '')}\r\n\r\n".encode()
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
        data = b""
        for part in message.iter_parts():
            if part.get_param("name", header="content-disposition") == "file":
                payload = part.get_payload(decode=True)
                data = payload if isinstance(payload, bytes) else b""
        state = self.server.state
        with state.lock:
            fid = f"file-{len(state.files) + 1}"
            state.files[fid] = data
        self._send(200, {"id": fid, "object": "file", "bytes": len(data), "created_at": 0, "filename": "batch.jsonl",
                         "purpose": "batch", "status": "processed"})  # fmt: skip

    def _file(self, fid: str) -> None:
        if fid not in self.server.state.files:
            self._error(404, f"no file {fid}", "not_found_error")
            return
        self._send(200, self.server.state.files[fid], "application/octet-stream")

    def _openai_create(self, request: dict[str, Any]) -> None:
        state = self.server.state
        data = state.files.get(request.get("input_file_id", ""))
        if data is None:
            self._error(400, "no such input file")
            return
        with state.lock:
            bid = f"batch_{len(state.batches) + 1}"
            entries = [json.loads(line) for line in data.splitlines() if line.strip()]
            state.entries[bid] = entries
            state.batches[bid] = {"provider": "openai", "n": len(state.batches), "polls": 0, "cancel": False}
        self._send(200, self._openai_view(bid))

    def _openai_batch(self, bid: str, cancel: bool) -> None:
        state = self.server.state
        if bid not in state.batches:
            self._error(404, f"no batch {bid}", "not_found_error")
            return
        with state.lock:
            state.batches[bid]["cancel"] |= cancel
            state.batches[bid]["polls"] += 1
        self._send(200, self._openai_view(bid))

    def _openai_view(self, bid: str) -> dict[str, Any]:
        state = self.server.state
        batch = state.batches[bid]
        entries = state.entries[bid]
        view: dict[str, Any] = {"id": bid, "object": "batch", "endpoint": "/v1/chat/completions",
                                "completion_window": "24h", "created_at": 0, "input_file_id": "",
                                "request_counts": {"total": len(entries), "completed": 0, "failed": 0}}  # fmt: skip
        outcome = "cancelled" if batch["cancel"] else state.outcome(batch["n"])
        if batch["polls"] <= state.polls and not batch["cancel"]:
            return {**view, "status": "in_progress"}
        if outcome == "failed":
            error = {"code": "invalid_request", "message": "line 1: model not supported", "line": 1}
            return {**view, "status": "failed", "errors": {"object": "list", "data": [error]}}
        if "output" not in batch:
            self._openai_finish(bid, outcome)
        counts = {"total": len(entries), "completed": batch["completed"], "failed": batch["failed"]}
        status = {"completed": "completed", "expired": "expired", "cancelled": "cancelled"}[outcome]
        return {**view, "status": status, "output_file_id": batch["output"], "error_file_id": batch["errors"],
                "request_counts": counts}  # fmt: skip

    def _openai_finish(self, bid: str, outcome: str) -> None:
        state = self.server.state
        entries = state.entries[bid]
        run = {"completed": len(entries), "expired": len(entries) // 2, "cancelled": 0}[outcome]
        output, errors = [], []
        for i, entry in enumerate(entries):
            line: dict[str, Any] = {"id": f"{bid}-req-{i}", "custom_id": entry["custom_id"]}
            if i >= run:
                line |= {"response": None, "error": {"code": f"batch_{outcome}", "message": f"This request {outcome}"}}
                errors.append(line)
            elif state.fails(prompt_of(entry["body"])):
                error = {"error": {"message": "Invalid 'max_tokens': too large", "type": "invalid_request_error"}}
                line |= {"response": {"status_code": 400, "request_id": str(i), "body": error}, "error": None}
                errors.append(line)
            else:
                body = _openai_answer(entry["body"], state, f"chatcmpl-{bid}-{i}")
                line |= {"response": {"status_code": 200, "request_id": str(i), "body": body}, "error": None}
                output.append(line)
        with state.lock:
            batch = state.batches[bid]
            batch["output"] = self._store(output)
            batch["errors"] = self._store(errors)
            batch["completed"], batch["failed"] = len(output), len(errors)

    def _store(self, lines: list[dict[str, Any]]) -> str | None:
        if not lines:
            return None
        fid = f"file-{len(self.server.state.files) + 1}"
        self.server.state.files[fid] = b"".join(json.dumps(x).encode() + b"\n" for x in lines)
        return fid

    # ------------------------------------------------------------------ Anthropic
    def _anthropic_create(self, request: dict[str, Any]) -> None:
        state = self.server.state
        n = len(state.created("anthropic"))
        if state.outcome(n) == "failed":
            self._error(400, "requests.0.params.model: model not supported")
            with state.lock:  # counted, so the next batch gets the next outcome
                state.batches[f"msgbatch_refused_{n}"] = {"provider": "anthropic", "n": n, "refused": True}
            return
        with state.lock:
            bid = f"msgbatch_{len(state.batches) + 1:03d}"
            state.entries[bid] = list(request.get("requests", []))
            state.batches[bid] = {"provider": "anthropic", "n": n, "polls": 0}
        self._send(200, self._anthropic_view(bid))

    def _anthropic_batch(self, bid: str, results: bool) -> None:
        state = self.server.state
        if bid not in state.entries:
            self._error(404, f"no batch {bid}", "not_found_error")
            return
        if not results:
            with state.lock:
                state.batches[bid]["polls"] += 1
            self._send(200, self._anthropic_view(bid))
            return
        lines = [json.dumps(self._anthropic_result(bid, i, e)).encode() for i, e in enumerate(state.entries[bid])]
        self._send(200, b"\n".join(lines) + b"\n", "application/binary")

    def _anthropic_result(self, bid: str, index: int, entry: dict[str, Any]) -> dict[str, Any]:
        state = self.server.state
        entries = state.entries[bid]
        outcome = state.outcome(state.batches[bid]["n"])
        run = {"completed": len(entries), "expired": len(entries) // 2, "cancelled": 0}[outcome]
        params = entry["params"]
        prompt = "\n".join(str(m.get("content", "")) for m in params.get("messages", []))
        if index >= run:
            result: dict[str, Any] = {"type": "canceled" if outcome == "cancelled" else "expired"}
        elif state.fails(prompt):
            error = {"type": "invalid_request_error", "message": "max_tokens: too large"}
            result = {"type": "errored", "error": {"type": "error", "error": error}}
        else:
            result = {"type": "succeeded", "message": _anthropic_message(params, state, f"msg-{bid}-{index}")}
        return {"custom_id": entry["custom_id"], "result": result}

    def _anthropic_view(self, bid: str) -> dict[str, Any]:
        state = self.server.state
        batch, entries = state.batches[bid], state.entries[bid]
        ended = batch["polls"] > state.polls
        counts = {"processing": 0 if ended else len(entries), "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
        if ended:
            for i, entry in enumerate(entries):
                kind = self._anthropic_result(bid, i, entry)["result"]["type"]
                counts[kind] += 1
        return {
            "id": bid,
            "type": "message_batch",
            "processing_status": "ended" if ended else "in_progress",
            "request_counts": counts,
            "created_at": "2026-01-01T00:00:00Z",
            "expires_at": "2026-01-02T00:00:00Z",
            "ended_at": "2026-01-01T01:00:00Z" if ended else None,
            "archived_at": None,
            "cancel_initiated_at": None,
            "results_url": f"{self.server.root}/v1/messages/batches/{bid}/results" if ended else None,
        }
