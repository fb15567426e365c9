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


# --------------------------------------------------------------------------- counting a context by its lines

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from holobench.tokenizers import lines_add_up  # noqa: E402

line_text = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs",), blacklist_characters="\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(lines=st.lists(line_text, min_size=1, max_size=6), name=st.sampled_from(["o200k_base", "cl100k_base"]))
def test_property_safe_line_starts_add_up(lines: list[str], name: str) -> None:
    """Where ``lines_add_up`` says so, the whole context has exactly the sum of its lines' tokens
    (each but the last counted with its newline): the generator then skips the full count."""
    tok = get_tokenizer(name)
    by_lines = sum(tok.count(t + "\n") for t in lines[:-1]) + tok.count(lines[-1])
    if lines_add_up(tok, lines):
        assert tok.count("\n".join(lines)) == by_lines


def test_unsafe_starts_and_other_tokenizers_are_counted_whole() -> None:
    tok = get_tokenizer("o200k_base")
    assert lines_add_up(tok, ["Row one.", "Row two."])
    assert not lines_add_up(tok, ["Row one.", " indented"])
    assert not lines_add_up(tok, ["a.", "/path"])
    assert not lines_add_up(tok, ["a", ""])
    assert not lines_add_up(get_tokenizer("hf:qwen3"), ["Row one.", "Row two."])


def test_token_count_cache_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from holobench import token_cache

    monkeypatch.setenv("HOLOBENCH_CACHE_DIR", str(tmp_path))
    tok = get_tokenizer("o200k_base")
    texts = ["Track 1 lasts 343,719 milliseconds.", "Wine 'Giana' costs $35."]
    fresh = token_cache.count_lines(tok, texts, "\n")
    assert fresh == (count_many(tok, texts), count_many(tok, [t + "\n" for t in texts]))
    files = list((tmp_path / "token-counts").rglob("*.bin"))
    assert len(files) == 1
    calls: list[int] = []
    monkeypatch.setattr(token_cache, "count_many", lambda *a: calls.append(1) or [0])
    assert token_cache.count_lines(tok, texts, "\n") == fresh and not calls  # served from disk
    files[0].write_bytes(b"\x00\x01")  # damaged: ignored and recounted
    monkeypatch.setattr(token_cache, "count_many", lambda t, xs: count_many(t, xs))
    assert token_cache.count_lines(tok, texts, "\n") == fresh
    token_cache.count_lines(tok, [*texts[:1], "Wine 'Giana' costs $36."], "\n")
    assert len(list((tmp_path / "token-counts").rglob("*.bin"))) == 2  # new text, new key
    monkeypatch.setenv("HOLOBENCH_CACHE_DIR", "off")
    assert token_cache.cache_root() is None and token_cache.count_lines(tok, texts, "\n") == fresh


def test_table_lines_are_reused_only_for_the_same_rows_verbalizer_and_tokenizer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    from holobench import token_cache
    from holobench.sources.sqlite import load_sqlite
    from holobench.verbalize.templates import TableTemplate, TemplateVerbalizer

    monkeypatch.setenv("HOLOBENCH_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "t.sqlite"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE pet (name TEXT, age INTEGER)")
    con.executemany("INSERT INTO pet VALUES (?, ?)", [("Rex", 3), ("Tom", 5)])
    con.commit()
    con.close()
    tok = get_tokenizer("o200k_base")
    db = load_sqlite(path, "t", origin="test")
    first = token_cache.table_lines(db, "pet", tok, "\n")
    assert first[0] == db.sentences("pet") and first[1] == count_many(tok, first[0])
    fresh = load_sqlite(path, "t", origin="test")
    monkeypatch.setattr(type(fresh), "sentences", lambda *a: pytest.fail("rendered again"))
    assert token_cache.table_lines(fresh, "pet", tok, "\n") == first  # served from disk
    monkeypatch.undo()
    monkeypatch.setenv("HOLOBENCH_CACHE_DIR", str(tmp_path / "cache"))
    template = tmp_path / "pet.j2"
    template.write_text("{{ name }} is {{ age }} years old.", encoding="utf-8")
    other = load_sqlite(path, "t", origin="test")
    other.set_verbalizer("pet", TemplateVerbalizer(TableTemplate(template, "pet", ["name", "age"])))
    texts = token_cache.table_lines(other, "pet", tok, "\n")[0]
    assert texts == ["Rex is 3 years old.", "Tom is 5 years old."]  # another verbalizer, another key
    template.write_text("{{ name }}: {{ age }}.", encoding="utf-8")
    other.set_verbalizer("pet", TemplateVerbalizer(TableTemplate(template, "pet", ["name", "age"])))
    assert token_cache.table_lines(other, "pet", tok, "\n")[0] == ["Rex: 3.", "Tom: 5."]
