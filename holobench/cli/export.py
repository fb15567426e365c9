"""``holobench export``: a suite as a Hugging Face dataset folder (and such a folder back), or as
an lm-evaluation-harness task folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from holobench.cli.common import out


def export_cmd(
    source: Annotated[
        Path,
        typer.Argument(
            help="hf, lm-eval: a suite folder (instances.jsonl, manifest.json); jsonl, lm-eval: an export folder"
        ),
    ],
    output: Annotated[Path, typer.Option("--out", "-o", help="the folder to write (new, empty or a former one)")],
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="hf: Parquet splits + dataset card; jsonl: the suite folder back; "
            "lm-eval: a task folder for lm_eval --include_path",
        ),
    ] = "hf",
) -> None:
    """Export a suite for `datasets.load_dataset` and `hf upload` or for lm-evaluation-harness, or
    write an export back as a suite folder (its instances.jsonl byte for byte). `score --instances`
    also takes an export."""
    from holobench.export import export

    out.print(export(source, output, fmt), markup=False)
