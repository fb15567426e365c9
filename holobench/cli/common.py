"""What the command modules share, so each says it once: the consoles, the option types, the
up-front range check, the progress bar, the score summary, and the one block of backend
options that ``run`` and ``score --scorer judge`` both use to reach a model."""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn
from rich.table import Table
from typer.models import OptionInfo

from holobench._urls import check_base_url
from holobench.backends import BackendOptions
from holobench.backends.registry import key_env, parse_options
from holobench.errors import HoloBenchError

# Piped output (make bench, CI logs) gets room for whole tables instead of rich's 80 columns.
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, highlight=False, soft_wrap=True)

SourceOpt = Annotated[
    str,
    typer.Option(
        "--source",
        "-s",
        help="bundled | spider:<dir> | hub:<dir or owner/name> | sqlite:<file> | duckdb:<file> | files:<dir>",
    ),
]
KeyEnvOpt = Annotated[
    str | None,
    typer.Option(help="environment variable holding the API key (must be set; default: OPENAI_API_KEY if set)"),
]
TemplatesOpt = Annotated[
    Path | None, typer.Option("--templates", help="folder of <db_id>/<table>.j2 templates (Spider sources)")
]


def in_range(option: str, value: float | None, low: float, high: float = math.inf, *, above: bool = False) -> None:
    """A numeric option checked before any work: finite, and within [low, high] (or (low, high])."""
    if value is None:
        return
    if not math.isfinite(value) or value < low or (above and value == low) or value > high:
        bound = f"{'above' if above else 'at least'} {low:g}" + (f" and at most {high:g}" if high < math.inf else "")
        raise HoloBenchError(f"{option} {value}: give a number {bound}")


# --------------------------------------------------------------------------- progress


class LazyProgress(Progress):
    """A progress bar that appears with its first update: an error found before any work (a bad
    instances file, a locked folder) is then the only line on stderr."""

    def __enter__(self) -> LazyProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live.is_started:
            self.stop()

    def update(self, task_id: TaskID, **fields: Any) -> None:
        if not self.live.is_started:
            self.start()
        super().update(task_id, **fields)


def progress_bar(*fields: str) -> LazyProgress:
    """The bar long commands draw on stderr (stdout stays for results): description, bar,
    done/total, then ``fields`` (text columns of the task's fields), then the time left."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    return LazyProgress(*columns, *(TextColumn(f) for f in fields), TimeRemainingColumn(), console=err)


# --------------------------------------------------------------------------- scores


def print_summary(summary: dict[str, object], where: Path) -> None:
    """A scoring's one-row table (counts and rates) and where its files are."""
    columns = ("instances", "scored", "skipped", "failed", "truncated", "missing")
    rates = ("mean_score", "answer_accuracy", "abstention_accuracy", "mean_precision")
    table = Table("model", "scorer", *columns, "score", "answer acc.", "abstention acc.", "precision")

    def rate(key: str) -> str:
        value = summary.get(key)
        return f"{value:.3f}" if isinstance(value, float) else "n/a"

    table.add_row(
        escape(str(summary.get("model"))),
        str(summary.get("scorer")),
        *(str(summary.get(k, 0)) for k in columns),
        *(rate(k) for k in rates),
    )
    out.print(table)
    out.print(f"scores: {where / 'scores.jsonl'}; summary: {where / 'summary.json'}", markup=False)


# --------------------------------------------------------------------------- backend options
# ``run`` reaches the model it evaluates, and ``score --scorer judge`` its judge, through the same
# client settings.  One table declares them for both: score names the model-choosing ones
# --judge-<name> and starts its help with "judge: ".

RESPONSE_CACHE = Path(".cache/holobench/responses")


def _pair(name: str, run_help: str, judge_help: str | None = None, *, judge_prefix: bool = True) -> list[OptionInfo]:
    """``[run's option, score's option]`` for one backend setting."""
    judge_name = f"--judge-{name}" if judge_prefix else f"--{name}"
    return [typer.Option(f"--{name}", help=run_help), typer.Option(judge_name, help=judge_help or f"judge: {run_help}")]


_BACKEND = _pair(
    "backend", "openai | openai-batch | anthropic-batch | vllm | llamacpp | rag | no-answer", "judge: backend name"
)
_MODEL = _pair("model", "model name, or a .gguf path for llamacpp", "judge: model name")
_BASE_URL = _pair("base-url", "OpenAI-compatible endpoint")
_OPTION = _pair("option", "backend option key=value (repeatable)", "judge: backend option key=value")
_CONCURRENCY = _pair("concurrency", "requests in flight", judge_prefix=False)
_MAX_RETRIES = _pair("max-retries", "retries per request", judge_prefix=False)
_CACHE_DIR = _pair("cache-dir", "response cache folder", judge_prefix=False)

BackendOpt = Annotated[str, _BACKEND[0]]
ModelOpt = Annotated[str | None, _MODEL[0]]
BaseUrlOpt = Annotated[str | None, _BASE_URL[0]]
OptionOpt = Annotated[list[str] | None, _OPTION[0]]
ConcurrencyOpt = Annotated[int, _CONCURRENCY[0]]
MaxRetriesOpt = Annotated[int, _MAX_RETRIES[0]]
CacheDirOpt = Annotated[Path | None, _CACHE_DIR[0]]

JudgeBackendOpt = Annotated[str, _BACKEND[1]]
JudgeModelOpt = Annotated[str | None, _MODEL[1]]
JudgeBaseUrlOpt = Annotated[str | None, _BASE_URL[1]]
JudgeOptionOpt = Annotated[list[str] | None, _OPTION[1]]
JudgeConcurrencyOpt = Annotated[int, _CONCURRENCY[1]]
JudgeMaxRetriesOpt = Annotated[int, _MAX_RETRIES[1]]
JudgeCacheDirOpt = Annotated[Path | None, _CACHE_DIR[1]]


@dataclass(frozen=True)
class BackendFlags:
    """The values of that block, checked and handed on the same way by both commands; the fields
    follow the order both commands list the options in, so a call reads like the signature."""

    backend: str
    model: str | None
    base_url: str | None
    api_key_env: str | None
    options: list[str] | None
    concurrency: int
    max_retries: int
    cache_dir: Path | None

    def check_limits(self) -> None:
        """--concurrency, then --max-retries (each command checks them at this point of its list)."""
        in_range("--concurrency", self.concurrency, 1)
        in_range("--max-retries", self.max_retries, 0)

    def check_url(self, option: str) -> None:
        """The endpoint, refused before any work if it is not an http(s) URL or carries a secret."""
        if self.base_url is not None:
            check_base_url(self.base_url, option)

    def backend_options(self, context_window: int | None) -> BackendOptions:
        """What ``run`` hands its backend (the key variable must be set by now)."""
        return BackendOptions(
            model=self.model,
            base_url=self.base_url,
            api_key_env=key_env(self.api_key_env),
            context_window=context_window,
            options=parse_options(self.options),
        )

    def judge_settings(self, malformed_retries: int) -> dict[str, Any]:
        """The ``JudgeConfig`` fields ``score`` hands the judge scorer, which checks them itself."""
        return {
            "backend": self.backend,
            "model": self.model,
            "base_url": self.base_url,
            "api_key_env": self.api_key_env,
            "options": self.options or [],
            "concurrency": self.concurrency,
            "max_retries": self.max_retries,
            "malformed_retries": malformed_retries,
            "cache_dir": self.cache_dir,
        }
