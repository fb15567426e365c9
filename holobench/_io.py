"""File writes that never leave a half-written file behind."""

from __future__ import annotations

import fcntl
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from holobench.errors import HoloBenchError

#: What an existing output folder of each kind holds; a folder with other files is never
#: written into or replaced (``report -o <a run folder>`` would otherwise delete the run).
OUTPUT_NAMES = {
    "suite": "suite folder",
    "run": "run folder",
    "scores": "score folder",
    "report": "report folder",
    "site": "leaderboard site",
    "submission": "submission folder",
    "viewer": "viewer site",
    "export": "dataset export",
    "lm-eval": "lm-eval task folder",
}
OUTPUT_KINDS: dict[str, Callable[[Path], bool]] = {
    "suite": lambda d: (d / "instances.jsonl").is_file(),
    "run": lambda d: (d / "predictions.jsonl").is_file() or (d / ".lock").is_file(),
    "scores": lambda d: (d / "scores.jsonl").is_file() or (d / "summary.json").is_file(),
    "report": lambda d: (d / "report.md").is_file(),
    "site": lambda d: (d / "leaderboard.json").is_file(),
    "submission": lambda d: (d / "manifest.json").is_file() and (d / "scores.jsonl").is_file(),
    "viewer": lambda d: (d / "viewer.json").is_file(),
    "export": lambda d: (d / "holobench-export.json").is_file(),
    "lm-eval": lambda d: (d / "utils.py").is_file() and (d / "instances.jsonl").is_file(),
}


def _writable_parent(path: Path, option: str) -> None:
    """The nearest existing ancestor of ``path`` must be a folder this process may write in."""
    parent = path.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise HoloBenchError(f"{path}: {option}: {parent} is a file, not a folder; choose another path")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise HoloBenchError(
            f"{path}: {option}: {parent} is not writable (read-only or no permission); choose another path"
        )


def check_output_dir(path: Path, kind: str, option: str = "--out") -> None:
    """Refuse, before any work, an output folder that cannot be (or must not be) written."""
    if path.exists() or path.is_symlink():
        if not path.is_dir():
            what = "a file" if path.is_file() else "a device or special file"
            raise HoloBenchError(f"{path}: {option}: is {what}, not a folder; give a new or empty folder")
        if any(path.iterdir()) and not OUTPUT_KINDS[kind](path):
            raise HoloBenchError(
                f"{path}: {option}: holds files that are not a holobench {OUTPUT_NAMES[kind]}; "
                "give a new or empty folder (nothing there was touched)"
            )
        if not os.access(path, os.W_OK | os.X_OK):
            raise HoloBenchError(f"{path}: {option}: is not writable; choose another folder")
        return
    _writable_parent(path, option)


def check_output_file(path: Path, option: str = "--out") -> None:
    """Refuse an output file path that is a folder, a device or in an unwritable place."""
    if path.exists():
        mode = path.stat().st_mode
        if stat.S_ISDIR(mode):
            raise HoloBenchError(f"{path}: {option}: is a folder; give a file path")
        if not stat.S_ISREG(mode):
            raise HoloBenchError(f"{path}: {option}: is a device or special file; give a regular file path")
    _writable_parent(path, option)


@contextmanager
def naming(path: Path) -> Iterator[None]:
    """An OSError raised inside without a file name (a write on a full disk) gets ``path``, so
    its one-line message says where it happened."""
    try:
        yield
    except OSError as exc:
        if exc.filename is None:
            raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from exc
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Write to a sibling temporary file, then rename it into place (atomic on POSIX); a write
    that fails (a full disk) removes the temporary file and leaves ``path`` as it was."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with naming(path):
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def staged_dir(out: Path, kind: str) -> Iterator[Path]:
    """A sibling temporary folder that replaces ``out`` only when the block succeeds; on any
    error it is removed and ``out`` (an older report or site) is left as it was. An existing
    ``out`` is replaced only when it is an output of the same ``kind``."""
    check_output_dir(out, kind)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        with naming(out):
            yield staging
        staging.chmod(0o755)  # mkdtemp makes it private; reports and sites are meant to be shared
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


@contextmanager
def exclusive(folder: Path, what: str) -> Iterator[None]:
    """Hold ``folder/.lock`` while the block runs, so two processes never write one folder (two
    runs into one ``--out`` would send every request twice and interleave one journal). The lock
    is the kernel's: a killed holder releases it, so no stale lock blocks a resume."""
    folder.mkdir(parents=True, exist_ok=True)
    handle = (folder / ".lock").open("a+", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise HoloBenchError(
            f"{folder}: {what} by {holder} is writing here now; wait for it to finish, or use another --out"
        ) from None
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()
