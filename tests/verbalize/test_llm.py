"""The LLM verbalizer against a real OpenAI-compatible HTTP server on loopback."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from holobench.errors import FaithfulnessError
from holobench.records import Column, TableSchema
from holobench.verbalize.llm import LLMVerbalizer

SCHEMA = TableSchema(
    name="wine",
    columns=(
        Column(name="No", type="BIGINT"),
        Column(name="Name", type="VARCHAR"),
        Column(name="Price", type="BIGINT"),
    ),
)
ROWS = [{"No": 1, "Name": "Giana", "Price": 35}, {"No": 2, "Name": "Old Kraft", "Price": None}]
SECRET = "sk-test-secret-value"


class FakeChatServer(ThreadingHTTPServer):
    """Answers chat completions; ``mode`` decides how faithful the sentence is."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.mode = "faithful"
        self.requests: list[dict[str, Any]] = []
        self.auth: list[str] = []


class Handler(BaseHTTPRequestHandler):
    server: FakeChatServer

    def log_message(self, *args: object) -> None:
        return

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append(body)
        self.server.auth.append(self.headers.get("Authorization", ""))
        prompt = body["messages"][-1]["content"]
        record = json.loads(prompt.split("Record: ", 1)[1].splitlines()[0])
        retry = "left out" in prompt
        values = [f"{k} {v}" for k, v in record.items() if v is not None]
        if self.server.mode == "always_lossy" or (self.server.mode == "lossy_first" and not retry):
            values = values[:-1]
        text = "This wine has " + ", ".join(values) + "."
        payload = {
            "id": "x",
            "object": "chat.completion",
            "created": 0,
            "model": body["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
        }
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture()
def server() -> Iterator[FakeChatServer]:
    srv = FakeChatServer()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _verbalizer(server: FakeChatServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **kw: Any) -> LLMVerbalizer:
    monkeypatch.setenv("HOLOBENCH_TEST_KEY", SECRET)
    return LLMVerbalizer(
        SCHEMA,
        model="tiny-model",
        base_url=f"http://127.0.0.1:{server.server_address[1]}/v1",
        api_key_env="HOLOBENCH_TEST_KEY",
        cache_dir=tmp_path / "cache",
        **kw,
    )


def test_sentences_are_generated_validated_and_cached(
    server: FakeChatServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    verbalizer = _verbalizer(server, tmp_path, monkeypatch)
    first = verbalizer.verbalize_rows(ROWS)
    assert first == ["This wine has No 1, Name Giana, Price 35.", "This wine has No 2, Name Old Kraft."]
    assert len(server.requests) == 2
    assert server.auth[0] == f"Bearer {SECRET}"
    assert server.requests[0]["model"] == "tiny-model" and server.requests[0]["temperature"] == 0.0
    again = _verbalizer(server, tmp_path, monkeypatch).verbalize_rows(ROWS)
    assert again == first and len(server.requests) == 2  # served from the on-disk cache
    other_model = _verbalizer(server, tmp_path, monkeypatch)
    other_model.model = "another-model"
    other_model.verbalize_rows(ROWS[:1])
    assert len(server.requests) == 3  # a different model never reuses another model's entries
    for path in (tmp_path / "cache").rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes()


def test_an_unfaithful_sentence_is_retried_with_the_missing_values(
    server: FakeChatServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.mode = "lossy_first"
    out = _verbalizer(server, tmp_path, monkeypatch).verbalize_rows(ROWS[:1])
    assert out == ["This wine has No 1, Name Giana, Price 35."]
    assert len(server.requests) == 2
    assert "Price=35" in server.requests[1]["messages"][-1]["content"]


def test_still_unfaithful_fails_or_falls_back(
    server: FakeChatServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.mode = "always_lossy"
    with pytest.raises(FaithfulnessError, match="wine row 0"):
        _verbalizer(server, tmp_path, monkeypatch).verbalize_rows(ROWS[:1])
    lenient = _verbalizer(server, tmp_path, monkeypatch, strict=False)
    out = lenient.verbalize_rows(ROWS[:1])
    assert out == ["Wine record: no is 1, name is Giana, and price is 35."]
    assert lenient.fallbacks == 1


def test_unreachable_endpoint_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from holobench.errors import HoloBenchError

    monkeypatch.setenv("HOLOBENCH_TEST_KEY", SECRET)
    verbalizer = LLMVerbalizer(
        SCHEMA,
        model="m",
        base_url="http://127.0.0.1:9/v1",
        api_key_env="HOLOBENCH_TEST_KEY",
        cache_dir=tmp_path,
        timeout=2.0,
        max_retries=0,
    )
    with pytest.raises(HoloBenchError) as info:
        verbalizer.verbalize_rows(ROWS[:1])
    assert SECRET not in str(info.value)
