"""Leaderboard submissions: pack a scored run, and validate one before it is published.

A submission is a folder or a ``.tar.gz``/``.tgz``/``.zip`` archive holding exactly
``manifest.json``, ``predictions.jsonl``, ``scores.jsonl`` and, optionally, ``report/`` with
figures and tables.  ``archive`` keeps hostile archives harmless (members checked before any
byte is extracted), ``validate`` checks the content, and ``pack`` builds a submission that
passes those same checks.  Every failure is one ``SubmissionError`` line naming the file, the
item and the fix, so a submitter can repair all problems in one go.

This package was one module, and callers (tests among them) shrink its limits or replace its
helpers by setting ``holobench.submit.<name>``; such a setting reaches the part that reads it.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType
from typing import Any

from holobench.submit.archive import (
    MANIFEST,
    MAX_MEMBER_BYTES,
    MAX_MEMBERS,
    MAX_PROBLEMS_SHOWN,
    MAX_RATIO,
    MAX_TOTAL_BYTES,
    PREDICTIONS,
    RATIO_MIN_BYTES,
    REPORT,
    REPORT_SUBDIRS,
    REPORT_SUFFIXES,
    REQUIRED,
    SCORES,
    SubmissionError,
)
from holobench.submit.pack import _write_tar, _write_zip, pack
from holobench.submit.validate import Submission, _secret_key, validate

__all__ = [
    "MANIFEST",
    "MAX_MEMBERS",
    "MAX_MEMBER_BYTES",
    "MAX_PROBLEMS_SHOWN",
    "MAX_RATIO",
    "MAX_TOTAL_BYTES",
    "PREDICTIONS",
    "RATIO_MIN_BYTES",
    "REPORT",
    "REPORT_SUBDIRS",
    "REPORT_SUFFIXES",
    "REQUIRED",
    "SCORES",
    "Submission",
    "SubmissionError",
    "_secret_key",
    "_write_tar",
    "_write_zip",
    "pack",
    "validate",
]

#: The parts, by module name: ``pack`` and ``validate`` here are the functions, not the modules.
_PARTS = tuple(importlib.import_module(f"{__name__}.{part}") for part in ("archive", "validate", "pack"))


class _Package(ModuleType):
    """Setting a name on the package sets it in every part that binds it, as in the one module."""

    def __setattr__(self, name: str, value: Any) -> None:
        for part in _PARTS:
            if name in vars(part):
                setattr(part, name, value)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
