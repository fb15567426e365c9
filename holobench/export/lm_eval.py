"""A suite as an lm-evaluation-harness task folder: ``lm_eval --include_path OUT --tasks <task>``.

Layout::

    <task>.yaml       generate_until over the instances, with holobench's ``match`` as its metric
    utils.py          four names lm-eval calls, from holobench.interop.lm_eval
    instances.jsonl   the suite's instances, byte for byte (``holobench score`` reads it too)

The folder needs holobench installed where lm-eval runs, so the scoring is holobench's own. The
prompt is the task's ``metadata.prompt`` (``cot``; ``--metadata '{"prompt": "structured"}'``
chooses another at run time).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from holobench._io import staged_dir
from holobench._version import __version__
from holobench.backends.base import SamplingParams
from holobench.jsonl import file_hash

UTILS = '''"""lm-evaluation-harness functions for this holobench task ('holobench export --format lm-eval')."""

from pathlib import Path
from typing import Any

from holobench.interop.lm_eval import doc_to_target, doc_to_text, process_results, task_dataset

__all__ = ["doc_to_target", "doc_to_text", "load", "process_results"]


def load(**metadata: Any) -> Any:
    """The instances beside this file, as the test split."""
    return task_dataset(Path(__file__).with_name("instances.jsonl"), **metadata)
'''


class LmEvalTask(BaseModel):
    """What the task's YAML says besides the fixed wiring to ``utils.py``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    task: str = Field(pattern=r"^[a-z0-9_]+$")
    suite: str
    instances: int
    instances_sha256: str
    prompt: str = "cot"
    max_gen_toks: int = SamplingParams().max_tokens

    def yaml(self) -> str:
        """The task file (written by hand: ``!function`` tags are lm-eval's YAML, not PyYAML's)."""
        dump = json.dumps  # JSON scalars are YAML scalars, quoted where they must be
        return (
            f"# {self.instances} instances of the holobench suite {dump(self.suite)}; holobench {__version__}\n"
            f"task: {self.task}\n"
            "tag: [holobench]\n"
            "custom_dataset: !function utils.load\n"
            "test_split: test\n"
            "output_type: generate_until\n"
            "doc_to_text: !function utils.doc_to_text\n"
            "doc_to_target: !function utils.doc_to_target\n"
            "process_results: !function utils.process_results\n"
            "generation_kwargs:\n"
            "  until: []\n"
            "  do_sample: false\n"
            "  temperature: 0.0\n"
            f"  max_gen_toks: {self.max_gen_toks}\n"
            "metric_list:\n"
            "  - metric: match\n"
            "    aggregation: mean\n"
            "    higher_is_better: true\n"
            "metadata:\n"
            "  version: 1.0\n"
            f"  prompt: {dump(self.prompt)}\n"
            f"  holobench_version: {dump(__version__)}\n"
            f"  instances_sha256: {dump(self.instances_sha256)}\n"
        )


def task_name(suite: str) -> str:
    """``holobench_<suite>``, in the characters lm-eval's task names use."""
    return "holobench_" + (re.sub(r"[^a-z0-9]+", "_", suite.lower()).strip("_") or "suite")


def export_lm_eval(instances: Path, suite: str, out: Path) -> LmEvalTask:
    """Write the task folder for ``instances`` (an instances.jsonl) at ``out``; nothing is left at
    ``out`` unless every file was written."""
    with instances.open(encoding="utf-8") as fh:
        count = sum(1 for line in fh if line.strip())
    spec = LmEvalTask(task=task_name(suite), suite=suite, instances=count, instances_sha256=file_hash(instances))
    with staged_dir(out, "lm-eval") as stage:
        shutil.copyfile(instances, stage / "instances.jsonl")
        (stage / "utils.py").write_text(UTILS, encoding="utf-8")
        (stage / f"{spec.task}.yaml").write_text(spec.yaml(), encoding="utf-8")
    return spec
