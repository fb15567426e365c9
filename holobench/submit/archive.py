"""Archive safety: what a submission may hold, and extraction that a hostile archive cannot abuse.

Archives come from strangers, so every member is checked (paths, types, sizes, compression
ratio) before a single byte is extracted, and extraction goes only into a fresh temporary folder
that is deleted afterwards.  A folder submission gets the same layout rules.  Every problem is
collected into one ``SubmissionError`` line, so a submitter can repair all of them in one go.
"""

from __future__ import annotations

import gzip
import re
import shutil
import stat
import tarfile
import tempfile
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

from holobench.errors import HoloBenchError

MANIFEST = "manifest.json"
PREDICTIONS = "predictions.jsonl"
SCORES = "scores.jsonl"
REPORT = "report"
#: The folders ``holobench report`` writes inside a report (one level, nothing deeper).
REPORT_SUBDIRS = ("tables", "plots")
REQUIRED = (MANIFEST, PREDICTIONS, SCORES)
REPORT_SUFFIXES = frozenset({".png", ".svg", ".csv", ".md", ".json"})

# Limits for untrusted archives; module globals (read at call time) so tests can shrink them.
MAX_MEMBERS = 1000
MAX_MEMBER_BYTES = 256 * 2**20
MAX_TOTAL_BYTES = 2**30
MAX_RATIO = 200
RATIO_MIN_BYTES = 2**20  # the ratio check applies to members at least this large
MAX_PROBLEMS_SHOWN = 5

_LAYOUT_FIX = (
    f"a submission holds only {MANIFEST}, {PREDICTIONS}, {SCORES} and report/*"
    f"{{{','.join(sorted(REPORT_SUFFIXES))}}}; remove it"
)

Kind = Literal["dir", "tar", "zip"]


class SubmissionError(HoloBenchError):
    """A submission (or the run being packed) is unsafe, malformed or inconsistent."""


@dataclass(frozen=True)
class _Entry:
    """One member of a submission, as the layout rules see it."""

    name: str  # normalised: no "./", no empty components; "" is the root
    size: int
    is_dir: bool


# --------------------------------------------------------------------------------------- messages


def _show(text: str, limit: int = 80) -> str:
    """Quote a name from an untrusted archive so control characters cannot break the one-line message."""
    shown = repr(text)
    return shown if len(shown) <= limit else shown[: limit - 4] + "...'"


def _few(items: Iterable[str], n: int = 3) -> str:
    """The first ``n`` items, sorted and quoted: enough to find them, short enough for one line."""
    ordered = sorted(items)
    head = ", ".join(_show(x, 40) for x in ordered[:n])
    return head + (f" and {len(ordered) - n} more" if len(ordered) > n else "")


def _fail(source: Path, problems: list[str]) -> SubmissionError:
    """One error line for all the problems (the first few shown), so they can be fixed in one go."""
    shown = problems[:MAX_PROBLEMS_SHOWN]
    text = "; ".join(shown)
    if len(problems) > len(shown):
        text += f"; and {len(problems) - len(shown)} more problem(s)"
    return SubmissionError(" ".join(f"{source}: {text}".split()))


# ----------------------------------------------------------------------------------------- layout


def _archive_kind(path: Path) -> Kind | None:
    """The archive format a path's suffix names; None for anything else (a folder, for ``pack``)."""
    name = path.name.lower()
    if name.endswith((".tar.gz", ".tgz")):
        return "tar"
    if name.endswith(".zip"):
        return "zip"
    return None


def _unsafe_name(name: str) -> str | None:
    """Why a member name could escape the extraction folder, or None when it cannot."""
    if not name or "\x00" in name:
        return "has an empty or NUL-containing name"
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "has an absolute path"
    if "\\" in name:
        return "has a backslash in its path"
    if ".." in name.split("/"):
        return "has a '..' path component"
    return None


def _normalise(name: str) -> str:
    """``./a//b`` and ``a/b`` are one member: compare and place members by this form."""
    return "/".join(part for part in name.split("/") if part not in ("", "."))


def _is_report_file(name: str) -> bool:
    """A figure or table where ``holobench report`` puts them: report/ or its tables/ and plots/."""
    parts = name.split("/")
    placed = len(parts) == 2 or (len(parts) == 3 and parts[1] in REPORT_SUBDIRS)
    return placed and parts[0] == REPORT and PurePosixPath(parts[-1]).suffix.lower() in REPORT_SUFFIXES


def _check_layout(entries: list[_Entry], problems: list[str]) -> None:
    """Exactly the expected files, no duplicates, and within the size limits."""
    if len(entries) > MAX_MEMBERS:
        problems.append(f"has {len(entries)} members, more than the {MAX_MEMBERS} allowed (drop report files)")
        return
    files = [e.name for e in entries if not e.is_dir]
    seen = Counter(name.casefold() for name in files)  # casefold: one file on case-insensitive disks
    duplicates = {name for name in files if seen[name.casefold()] > 1}
    if duplicates:
        problems.append(f"duplicate member(s) {_few(duplicates)} (each file may appear once; re-pack it)")
    total = 0
    for entry in entries:
        if entry.is_dir:
            if entry.name not in ("", REPORT, *(f"{REPORT}/{d}" for d in REPORT_SUBDIRS)):
                problems.append(f"unexpected folder {_show(entry.name)} ({_LAYOUT_FIX})")
            continue
        if entry.name not in REQUIRED and not _is_report_file(entry.name):
            problems.append(f"unexpected file {_show(entry.name)} ({_LAYOUT_FIX})")
        if entry.size > MAX_MEMBER_BYTES:
            problems.append(
                f"{_show(entry.name)} is {entry.size:,} bytes uncompressed, over the {MAX_MEMBER_BYTES:,}-byte limit"
                " (shrink or drop it)"
            )
        total += entry.size
    if total > MAX_TOTAL_BYTES:
        problems.append(f"holds {total:,} bytes uncompressed, over the {MAX_TOTAL_BYTES:,}-byte limit")
    for required in REQUIRED:
        if required not in files:
            problems.append(f"{required} is missing (put it at the top level; pack with holobench submit pack)")


def _bomb(name: str, size: int, compressed: int) -> str | None:
    """Why a member expands suspiciously far for its compressed size, or None when it does not."""
    if size >= RATIO_MIN_BYTES and size > MAX_RATIO * max(compressed, 1):
        return (
            f"{_show(name)} expands {size / max(compressed, 1):,.0f}x ({size:,} bytes), over the {MAX_RATIO}x"
            " compression-ratio limit (looks like a zip bomb; re-pack with ordinary compression)"
        )
    return None


# ------------------------------------------------------------------------------------ directories


def _scan_dir(root: Path, problems: list[str]) -> list[_Entry]:
    """A folder submission gets the same layout rules, and no symlinks or special files."""
    entries: list[_Entry] = []

    def visit(folder: Path, prefix: str) -> None:
        for child in sorted(folder.iterdir()):
            name = prefix + child.name
            mode = child.lstat().st_mode
            if stat.S_ISLNK(mode):
                problems.append(f"{_show(name)} is a symlink (copy the real file in instead)")
            elif stat.S_ISDIR(mode):
                entries.append(_Entry(name, 0, True))
                if name == REPORT:
                    visit(child, name + "/")
            elif stat.S_ISREG(mode):
                entries.append(_Entry(name, child.lstat().st_size, False))
            else:
                problems.append(f"{_show(name)} is a device, fifo or socket (only regular files are allowed)")
            if len(entries) > MAX_MEMBERS:
                return

    visit(root, "")
    return entries


# ------------------------------------------------------------------------------------------- tar


class _CappedStream:
    """Decompressed bytes of a .tar.gz that stop at a cap, so a gzip bomb cannot burn CPU or disk."""

    def __init__(self, gz: gzip.GzipFile, cap: int) -> None:
        self._gz = gz
        self._cap = cap
        self._read = 0

    def read(self, size: int, /) -> bytes:
        data = self._gz.read(size)
        self._read += len(data)
        if self._read > self._cap:
            raise _CapExceeded
        return data

    def write(self, b: bytes, /) -> object:
        raise OSError("read-only")

    def tell(self) -> int:
        return self._read

    def seek(self, pos: int, /) -> object:
        raise OSError("not seekable")

    def close(self) -> object:
        return None  # the caller owns the gzip file


class _CapExceeded(Exception):
    """Raised by :class:`_CappedStream` at the cap, so reading stops there."""


def _tar_signature(info: tarfile.TarInfo) -> tuple[str, bytes, int]:
    """What must not change between the checked read and the extracting one."""
    return info.name, info.type, info.size


def _scan_tar(path: Path, problems: list[str]) -> list[tuple[str, bytes, int]] | None:
    """Read member headers only, in a capped stream; None when the archive itself is unreadable."""
    archive_bytes = max(path.stat().st_size, 1)
    cap = MAX_TOTAL_BYTES + 4096 * (MAX_MEMBERS + 1) + 2**20  # content plus headers and padding
    signatures: list[tuple[str, bytes, int]] = []
    entries: list[_Entry] = []
    try:
        with gzip.open(path, "rb") as gz, tarfile.open(fileobj=_CappedStream(gz, cap), mode="r|") as tf:
            for info in tf:
                signatures.append(_tar_signature(info))
                if len(signatures) > MAX_MEMBERS:
                    problems.append(f"has more than {MAX_MEMBERS} members (drop report files)")
                    return signatures
                unsafe = _unsafe_name(info.name)
                if unsafe:
                    problems.append(f"member {_show(info.name)} {unsafe} (use relative paths inside the archive)")
                    continue
                name = _normalise(info.name)
                if info.issym() or info.islnk():
                    kind = "symlink" if info.issym() else "hard link"
                    problems.append(f"member {_show(info.name)} is a {kind} (archive the real file instead)")
                elif info.isdir():
                    entries.append(_Entry(name, 0, True))
                elif info.isreg():
                    entries.append(_Entry(name, info.size, False))
                    bomb = _bomb(name, info.size, archive_bytes)
                    if bomb:
                        problems.append(bomb)
                else:
                    problems.append(f"member {_show(info.name)} is a device or fifo (only regular files are allowed)")
    except _CapExceeded:
        problems.append(f"decompresses to more than {cap:,} bytes (too large, or a gzip bomb)")
        return None
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        problems.append(f"not a readable .tar.gz archive ({exc}); re-create it with holobench submit pack")
        return None
    _check_layout(entries, problems)
    return signatures


def _extract_tar(path: Path, dest: Path, problems: list[str]) -> None:
    """Scan the headers first; extract (regular files only) when they pass and have not changed since."""
    signatures = _scan_tar(path, problems)
    if problems or signatures is None:
        return
    try:
        with tarfile.open(path, "r:gz") as tf:
            members = tf.getmembers()
            if [_tar_signature(m) for m in members] != signatures:
                problems.append("changed while being read (copy it somewhere stable and try again)")
                return
            tf.extractall(dest, members=[m for m in members if m.isreg()], filter="data")
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        problems.append(f"cannot be extracted ({exc}); re-create it with holobench submit pack")


# ------------------------------------------------------------------------------------------- zip


def _zip_entries(infos: list[zipfile.ZipInfo], problems: list[str]) -> list[_Entry]:
    """The members a zip's central directory declares; unsafe ones become problems, not entries."""
    entries: list[_Entry] = []
    for info in infos:
        unsafe = _unsafe_name(info.filename)
        if unsafe:
            problems.append(f"member {_show(info.filename)} {unsafe} (use relative paths inside the archive)")
            continue
        name = _normalise(info.filename)
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            problems.append(f"member {_show(info.filename)} is a symlink (archive the real file instead)")
        elif stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
            problems.append(f"member {_show(info.filename)} is a device or fifo (only regular files are allowed)")
        elif info.flag_bits & 0x1:
            problems.append(f"member {_show(info.filename)} is encrypted (submissions must be readable)")
        elif info.is_dir():
            entries.append(_Entry(name, 0, True))
        else:
            entries.append(_Entry(name, info.file_size, False))
            bomb = _bomb(name, info.file_size, info.compress_size)
            if bomb:
                problems.append(bomb)
    return entries


def _copy_zip(zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo], dest: Path, problems: list[str]) -> None:
    """Write the checked members under ``dest``, stopping at a member that outgrows its declared size
    (headers can lie, so the size check is repeated on the bytes themselves)."""
    root = dest.resolve()
    for info in infos:
        if info.is_dir():
            continue
        target = (dest / _normalise(info.filename)).resolve()
        if not target.is_relative_to(root):  # cannot happen after the checks; kept as a backstop
            problems.append(f"member {_show(info.filename)} escapes the extraction folder")
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        written = 0
        with zf.open(info) as src, target.open("xb") as dst:
            for block in iter(lambda: src.read(1 << 20), b""):
                written += len(block)
                if written > info.file_size:
                    problems.append(f"member {_show(info.filename)} is larger than its header says")
                    return
                dst.write(block)


def _extract_zip(path: Path, dest: Path, problems: list[str]) -> None:
    """Check every member's header, then (only when all pass) write the files under ``dest``."""
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            if len(infos) > MAX_MEMBERS:
                problems.append(f"has {len(infos)} members, more than the {MAX_MEMBERS} allowed (drop report files)")
                return
            entries = _zip_entries(infos, problems)
            _check_layout(entries, problems)
            if problems:
                return
            _copy_zip(zf, infos, dest, problems)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError, RuntimeError) as exc:
        problems.append(f"not a readable .zip archive ({exc}); re-create it with holobench submit pack")


# ------------------------------------------------------------------------------------ extraction


@contextmanager
def extracted(path: Path) -> Iterator[Path]:
    """A checked archive's files in a fresh temporary folder, deleted when the block ends.

    Every member is checked before any is written, so a refused archive leaves nothing behind.
    """
    kind = _archive_kind(path)
    if kind is None or not path.is_file():
        raise SubmissionError(
            f"{path}: not a submission folder or a .tar.gz/.tgz/.zip archive (pack one with holobench submit pack)"
        )
    if path.stat().st_size > MAX_TOTAL_BYTES:
        raise SubmissionError(f"{path}: archive is over {MAX_TOTAL_BYTES:,} bytes (drop report files)")
    problems: list[str] = []
    scratch = Path(tempfile.mkdtemp(prefix="holobench-submission-"))
    try:
        if kind == "tar":
            _extract_tar(path, scratch, problems)
        else:
            _extract_zip(path, scratch, problems)
        if problems:
            raise _fail(path, problems)
        yield scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
