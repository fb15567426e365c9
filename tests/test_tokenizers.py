"""Tokenizers: offline tiktoken encodings identical to OpenAI's, and Hugging Face tokenizer files."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from holobench.errors import HoloBenchError
from holobench.tokenizers import _offline_ranks, count_many, get_tokenizer

TEXT = "The 2008 Zinfandel 'Giana' by Chiarello Family costs $35.\nTrack 1 lasts 343,719 milliseconds."


def test_o200k_is_the_default_and_known_token_ids_match() -> None:
    tok = get_tokenizer()
    assert tok.name == "o200k_base"
    # Reference ids from OpenAI's o200k_base and cl100k_base for "hello world".
    assert tok.encode("hello world") == [24912, 2375]
    assert get_tokenizer("cl100k_base").encode("hello world") == [15339, 1917]


def test_rank_files_are_checked_against_tiktoken_hashes() -> None:
    ranks = _offline_ranks(
        "https://x/o200k_base.tiktoken", "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"
    )
    assert len(ranks) == 199998
    with pytest.raises(HoloBenchError, match="hash mismatch"):
        _offline_ranks("https://x/o200k_base.tiktoken", hashlib.sha256(b"other").hexdigest())


@pytest.mark.parametrize("name", ["o200k_base", "cl100k_base", "hf:qwen3", "hf:llama3"])
def test_count_encode_and_batch_agree(name: str) -> None:
    tok = get_tokenizer(name)
    ids = tok.encode(TEXT)
    assert tok.count(TEXT) == len(ids) > 10
    assert count_many(tok, [TEXT, "a", ""]) == [len(ids), tok.count("a"), 0]


@pytest.mark.parametrize("name", ["o200k_base", "cl100k_base", "hf:qwen3", "hf:llama3"])
def test_lines_joined_by_newlines_count_additively(name: str) -> None:
    """The generator's exact-length guarantee rests on this: count(line + newline) per line adds up."""
    tok = get_tokenizer(name)
    lines = [
        "Wine 1 costs $35.",
        "Grape 'Barbera' is red",
        "It scored 93 points!",
        "(no value)",
        "Café ünïcode 12,000.",
    ]
    joined = "\n".join(lines)
    predicted = sum(tok.count(x + "\n") for x in lines[:-1]) + tok.count(lines[-1])
    assert tok.count(joined) == predicted


def test_hf_tokenizer_from_a_file_path(tmp_path: Path) -> None:
    qwen = get_tokenizer("hf:qwen3")
    path = qwen.path
    copy = tmp_path / "tokenizer.json"
    copy.write_bytes(path.read_bytes())
    assert get_tokenizer(f"hf:{copy}").encode(TEXT) == qwen.encode(TEXT)


def test_unknown_and_missing_tokenizers(tmp_path: Path) -> None:
    with pytest.raises(HoloBenchError, match="unknown tokenizer"):
        get_tokenizer("gpt2")
    with pytest.raises(HoloBenchError, match="not found"):
        get_tokenizer(f"hf:{tmp_path / 'missing.json'}")
    bad = tmp_path / "bad.json"
    bad.write_text("{}", encoding="utf-8")
    with pytest.raises(HoloBenchError, match=r"not a valid tokenizer\.json"):
        get_tokenizer(f"hf:{bad}")
