"""Leaderboard submissions: pack a scored run, and validate one before it is published.

A submission is a folder or a ``.tar.gz``/``.tgz``/``.zip`` archive holding exactly
``manifest.json``, ``predictions.jsonl``, ``scores.jsonl`` and, optionally, ``report/`` with
figures and tables.  ``archive`` keeps hostile archives harmless (members checked before any
byte is extracted), ``validate`` checks the content, and ``pack`` builds a submission that
passes those same checks.  Every failure is one ``SubmissionError`` line naming the file, the
item and the fix, so a submitter can repair all problems in one go.

The limits live in ``archive`` (``holobench.submit.archive.MAX_MEMBERS`` ...), where the checks
read them.
"""

from __future__ import annotations

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
from holobench.submit.packing import _write_tar, _write_zip, pack
from holobench.submit.validation import Submission, _secret_key, validate

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
