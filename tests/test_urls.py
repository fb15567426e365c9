"""Secrets in a --base-url never reach a manifest."""

from __future__ import annotations

import doctest
import json
from pathlib import Path

import pytest

import holobench._urls
from holobench._urls import redact_url
from holobench.backends.openai import OpenAIBackend
from holobench.runner import RunConfig, manifest_for


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:8000/v1", "http://127.0.0.1:8000/v1"),
        ("https://me:sk-abc@api.example.com/v1", "https://me:REDACTED@api.example.com/v1"),
        ("https://sk-only@api.example.com/v1", "https://sk-only@api.example.com/v1"),
        ("http://u:p@[::1]:8000/v1", "http://u:REDACTED@[::1]:8000/v1"),
        (
            "https://h/v1?api-version=2024&api_key=sk-1&token=t&sig=s",
            "https://h/v1?api-version=2024&api_key=REDACTED&token=REDACTED&sig=REDACTED",
        ),
        ("http://h:notaport/v1", "REDACTED"),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_docstring_examples() -> None:
    assert doctest.testmod(holobench._urls).failed == 0


def test_run_manifest_keeps_no_key_from_the_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HB_URL_TEST_KEY", "sk-env-key-0123456789")
    secret = "sk-in-the-url-0123456789"
    instances = tmp_path / "instances.jsonl"
    instances.write_text('{"id": "a"}\n', encoding="utf-8")
    for url in (f"http://user:{secret}@127.0.0.1:9/v1", f"http://127.0.0.1:9/v1?api_key={secret}"):
        backend = OpenAIBackend("m", url, "HB_URL_TEST_KEY", None, "direct")
        text = json.dumps(manifest_for(instances, RunConfig(backend="openai"), backend))
        assert secret not in text and "REDACTED" in text
