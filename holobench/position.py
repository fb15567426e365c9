"""Position analysis: where in the context sit the lines that carry the gold rows a model missed.

Every gold row is traced to the relevant lines that carry it (:mod:`holobench.carriers` defines
carrying and how ties are broken); a line's position is its line number over the context's last
(0 the first line, 1 the last), in deciles. The position table has one row per (run, scored
instance, judged gold row, carrier line), weighted 1 / (the row's carriers) so that each judged
gold row counts once however many lines carry it. Recall in a decile is the weighted mean of the
rows' credit (exact 1, partial 0.5, no 0): it reads "of the gold rows whose lines sit here, how
much did the model recall", with a 95% bootstrap interval over queries. Instances unanswerable by
design are left out: no line of their context carries their (empty) answer.

Cost (``benchmarks/bench_position.py``, one busy core): 0.04 s an instance on the smoke suite
(1k tokens); on every fourth query of the paper grid 0.18 s on average, 0.08 s at 4k tokens, and
at 64k 0.18 s where group testing applies and 1.0 s (at most 3.5 s) where lines are tested one at
a time. Carriers found are kept on disk, so only the first report over a file pays.
"""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from pathlib import Path

import pandas as pd
from pydantic import BaseModel, ValidationError

from holobench._version import __version__
from holobench.aggregate import N_BOOT, SEED, Run, bootstrap_ci
from holobench.cache import cache_key
from holobench.carriers import PositionItem, gold_carriers
from holobench.environment import GENERATION_PACKAGES, versions
from holobench.errors import HoloBenchError
from holobench.jsonl import file_hash, read_instances, read_jsonl, write_jsonl
from holobench.records import LABEL_WEIGHT, Label, RunManifest, ScoreRecord
from holobench.token_cache import cache_root
from holobench.verify import GoldBuilders

__all__ = [
    "InstanceCarriers",
    "PositionItem",
    "carried_rows",
    "compute_carriers",
    "decile",
    "gold_carriers",
    "manifest_instances",
    "missed_lines",
    "position_frame",
    "read_carriers",
    "recall_by_decile",
    "recall_by_placement",
    "relative_position",
]

#: The category under which the recall tables pool every instance once (by its first category).
ALL = "all"

FRAME_COLUMNS = [
    "model",
    "id",
    "query_id",
    "category",
    "primary",
    "placement",
    "target_tokens",
    "row",
    "line",
    "position",
    "decile",
    "credit",
    "weight",
]


#: Bumped whenever what a carrier is, or how carriers are found, changes: kept carriers are then
#: found again.
CARRIERS_VERSION = "1"


class InstanceCarriers(BaseModel):
    """One instance's carriers (one list of line numbers per gold row) and its length in lines."""

    id: str
    lines: int
    carriers: list[list[int]]


def read_carriers(
    instances: Path,
    ids: Collection[str] | None = None,
    progress: Callable[[int], None] | None = None,
    untraced: dict[str, str] | None = None,
) -> dict[str, InstanceCarriers]:
    """Carriers of every instance of ``instances`` (a file or a suite folder), or of ``ids`` only;
    each source is opened once and each database gets one builder, as ``holobench verify`` does.
    Carriers found are kept on disk (:func:`cache_file`), so a second report finds them at once.
    With ``untraced``, an instance that cannot be traced (a search past its time limit, a gold the
    engines here do not reproduce) is recorded there by id, and the others are still traced."""
    target = instances / "instances.jsonl" if instances.is_dir() else instances
    wanted = set(ids) if ids is not None else None
    cache = cache_file(target)
    known = _read_cache(cache)
    found = {iid: known[iid] for iid in (known if wanted is None else wanted & known.keys())}
    builders = GoldBuilders(target, "trace gold rows")
    for item in read_instances(
        target, lambda iid: iid in found or (wanted is not None and iid not in wanted), PositionItem
    ):
        builder = builders.of(item)  # a source or database that cannot be opened stops here, as before
        try:
            carriers = gold_carriers(item, builder)
        except HoloBenchError as exc:
            if untraced is None:
                raise
            untraced[item.id] = str(exc)
            continue
        found[item.id] = InstanceCarriers(id=item.id, lines=len(item.lines), carriers=carriers)
        if progress is not None:
            progress(len(found))
    if cache is not None and found.keys() - known.keys():
        with contextlib.suppress(OSError):  # a read-only or full disk only costs the next report the work
            write_jsonl(cache, [*known.values(), *(v for k, v in found.items() if k not in known)])
    return found


def cache_file(instances: Path) -> Path | None:
    """Where the carriers of an instances file are kept: under ``$HOLOBENCH_CACHE_DIR`` (``off``
    turns it off), named by the file's SHA-256, the engines' versions and :data:`CARRIERS_VERSION`."""
    root = cache_root()
    if root is None:
        return None
    try:
        digest = file_hash(instances)
    except OSError:
        return None  # the reader says what is wrong with the file
    key = cache_key(CARRIERS_VERSION, __version__, digest, versions(GENERATION_PACKAGES)["packages"])
    return root / "position-carriers" / f"{key}.jsonl"


def _read_cache(cache: Path | None) -> dict[str, InstanceCarriers]:
    if cache is None or not cache.is_file():
        return {}
    try:
        return {c.id: c for c in read_jsonl(cache, InstanceCarriers, record="", file="", records="carriers")}
    except HoloBenchError:
        return {}  # damaged: found again and rewritten


def compute_carriers(
    instances: Path,
    ids: Collection[str] | None = None,
    progress: Callable[[int], None] | None = None,
    untraced: dict[str, str] | None = None,
) -> dict[str, list[list[int]]]:
    """{instance id: carriers of each gold row}, as :func:`read_carriers` finds them."""
    found = read_carriers(instances, ids, progress, untraced)
    return {iid: item.carriers for iid, item in found.items()}


def manifest_instances(path: Path) -> Path | None:
    """The instances file a run's manifest names, if it exists here. ``path`` is a run folder, a
    score folder inside it (``<run>/scores/<scorer>``) or its scores.jsonl; the manifest records
    the path as given to ``holobench run``, so it is tried as written, then from the run folder."""
    folder = path if path.is_dir() else path.parent
    run = folder.parent.parent if folder.parent.name == "scores" else folder
    manifest = run / "manifest.json"
    if not manifest.is_file():
        return None
    try:
        named = RunManifest.model_validate_json(manifest.read_text(encoding="utf-8")).instances
    except (OSError, ValueError, ValidationError):
        return None
    if not named:
        return None
    for candidate in (Path(named), run / named):
        if candidate.is_file():
            return candidate
    return None


def relative_position(index: int, n_lines: int) -> float:
    """Line ``index`` of ``n_lines`` as a share of the way through: 0 the first line, 1 the last."""
    if not 0 <= index < n_lines:
        raise ValueError(f"line {index} is not in a context of {n_lines} lines")
    return index / (n_lines - 1) if n_lines > 1 else 0.0


def decile(position: float) -> int:
    """0 for the first tenth of a context ... 9 for the last (the last line included)."""
    if not 0.0 <= position <= 1.0:
        raise ValueError(f"a relative position is in [0, 1], not {position}")
    return min(9, int(position * 10))


def missed_lines(carriers: list[list[int]], labels: list[Label]) -> list[int]:
    """The context lines that carry a gold row labelled ``no`` (labels cover the judged rows)."""
    return sorted({line for lines, label in zip(carriers, labels, strict=False) if label is Label.NO for line in lines})


def carried_rows(
    record: ScoreRecord, carriers: list[list[int]], n_lines: int
) -> Iterator[tuple[int, int, float, float, float]]:
    """(gold row, carrier line, its relative position, the row's credit, weight = 1 / carriers) for
    every judged gold row and line that carries it; nothing for a record that was not scored, or
    for an instance unanswerable by design (no line carries its empty answer). The report's tables
    and the viewer both count from this."""
    if record.status != "scored" or record.answerable is False:
        return
    for row, (label, lines) in enumerate(zip(record.labels, carriers, strict=False)):
        for line in lines:
            yield row, line, relative_position(line, n_lines), LABEL_WEIGHT[label], 1.0 / len(lines)


def position_frame(runs: Iterable[Run], found: Mapping[str, InstanceCarriers]) -> pd.DataFrame:
    """One row per (run, scored instance, judged gold row, carrier line, category): categories are
    exploded as in ``aggregate.frame`` (``primary`` marks the first); weight is 1 / carriers."""
    rows = []
    for run in runs:
        for record in run.records:
            traced = found.get(record.id)
            if traced is None:
                continue
            for row, line, position, credit, weight in carried_rows(record, traced.carriers, traced.lines):
                for category in record.categories:
                    rows.append(
                        {
                            "model": run.label,
                            "id": record.id,
                            "query_id": record.query_id,
                            "category": category.value,
                            "primary": category == record.categories[0],
                            "placement": record.placement.value,
                            "target_tokens": record.target_tokens,
                            "row": row,
                            "line": line,
                            "position": position,
                            "decile": decile(position),
                            "credit": credit,
                            "weight": weight,
                        }
                    )
    return pd.DataFrame(rows, columns=FRAME_COLUMNS)


def recall_by_decile(df: pd.DataFrame, *, n_boot: int = N_BOOT, seed: int = SEED) -> pd.DataFrame:
    """Recall of the gold rows whose carriers sit in each decile, per model and category (and
    ``all``); ``rows`` is the gold rows' weight there (a row split over deciles counts in part)."""
    return _recall(df, "decile", n_boot, seed)


def recall_by_placement(df: pd.DataFrame, *, n_boot: int = N_BOOT, seed: int = SEED) -> pd.DataFrame:
    """Recall per gold row (not per instance, as the report's placement table) by placement."""
    return _recall(df, "placement", n_boot, seed)


def _recall(df: pd.DataFrame, by: str, n_boot: int, seed: int) -> pd.DataFrame:
    keys = ["model", "category", by]
    pooled = pd.concat([df, df[df["primary"]].assign(category=ALL)], ignore_index=True)
    out = []
    for key, group in pooled.groupby(keys, sort=True):
        credit = group["credit"].to_numpy(dtype=float)
        weight = group["weight"].to_numpy(dtype=float)
        low, high = bootstrap_ci(
            credit,
            group["query_id"].to_numpy(),
            weights=weight,
            n_boot=n_boot,
            seed=[seed, zlib.crc32(repr(("position", *key)).encode("utf-8"))],
        )
        out.append(
            {
                **dict(zip(keys, key, strict=True)),
                "recall": float((credit * weight).sum() / weight.sum()),
                "ci_low": low,
                "ci_high": high,
                "rows": float(weight.sum()),
                "instances": int(group["id"].nunique()),
                "queries": int(group["query_id"].nunique()),
            }
        )
    return pd.DataFrame(out, columns=[*keys, "recall", "ci_low", "ci_high", "rows", "instances", "queries"])
