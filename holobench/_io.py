"""File writes that never leave a half-written file behind."""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from holobench.errors import HoloBenchError


def atomic_write_text(path: Path, text: str) -> None:
    """Write to a sibling temporary file, then rename it into place (atomic on POSIX)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


@contextmanager
def staged_dir(out: Path) -> Iterator[Path]:
    """A sibling temporary folder that replaces ``out`` only when the block succeeds; on any
    error it is removed and ``out`` (an older report or site) is left as it was."""
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
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
