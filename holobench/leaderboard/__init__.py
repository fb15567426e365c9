"""``holobench leaderboard build``: validated submissions -> a static HTML site.

``index.html`` ranks the entries by score (with 95% bootstrap intervals over queries and one column
per category; every column sorts in the browser, and ``?sort=<key>&dir=asc|desc`` picks the order
on load); an entry whose paired difference from the one ranked above it is within noise is marked,
and a matrix shows every pair's difference; ``entries/<slug>.html`` shows one entry's tables and
plots.  Submissions are untrusted:
every one is validated first, every string is HTML-escaped by jinja2, and the site is written
under a temporary name and moved into place at the end.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import jinja2
import pandas as pd

from holobench._io import staged_dir
from holobench._version import __version__
from holobench.aggregate import N_BOOT, TABLES, Run, frame, table
from holobench.environment import describe, suite_versions, version_differences
from holobench.errors import HoloBenchError
from holobench.paired import AllPairs, all_pairs, interval_text
from holobench.records import Category, RunManifest, ScoreRecord
from holobench.report import draw_plots
from holobench.submit import Submission, validate
from holobench.verify import verify_gold as verify_gold_file
from holobench.viewer import write_site
from holobench.viewer.data import loaded

TEMPLATES = Path(__file__).resolve().parent / "templates"
CATEGORIES = [c.value for c in Category]
#: The tables on an entry's page (grouping columns from :data:`holobench.aggregate.TABLES`).
ENTRY_TABLES = {
    "length": "By context length",
    "setting": "By setting",
    "placement": "By placement",
    "category": "By category",
    "database": "By database",
    "answerability": "Answer accuracy and abstention accuracy",
}

PAIRED_METHOD = (
    "a minus b over the instances both entries scored; 95% paired cluster-bootstrap interval "
    f"(queries resampled once for both entries, {N_BOOT} resamples); separable: the interval excludes 0"
)
NOT_SEPARABLE = "not separable from the entry above: the 95% paired interval of the difference includes 0"


@dataclass
class Entry:
    """One submission as the site shows it: numbers and their display text, computed once."""

    label: str
    slug: str
    model: str
    backend: str
    prompt: str
    scorer: str
    created: str
    notes: str
    holobench_version: str
    settings: str
    versions: str
    instances: int
    scored: int
    skipped: int
    failed: int
    truncated: int
    score_value: float
    score: str
    ci: str
    precision_value: float
    precision: str
    category_values: dict[str, float] = field(default_factory=dict)
    category_text: dict[str, str] = field(default_factory=dict)
    flags: tuple[str, ...] = ()
    rank: int = 0
    #: the validated (and, for ``match``, recomputed) records the paired differences come from
    scores: list[ScoreRecord] = field(default_factory=list, repr=False)
    #: the paired difference from the entry ranked right above: separable or not (None: no such pair)
    separable_above: bool | None = None
    above_note: str = ""
    #: the submission this entry shows (its index in the build's input), for its viewer pages
    source: int = 0
    #: the entry's answers in the site's run viewer, when the build had the instances
    viewer: str = ""


@dataclass(frozen=True)
class Cell:
    """One cell of the pairwise matrix: the row's entry minus the column's, as the page shows it."""

    text: str
    title: str
    kind: Literal["self", "none", "sep", "tie"]  # sep: the interval excludes 0; none: no pair


def _slug(text: str, taken: set[str]) -> str:
    """A file name for an entry's page from its label, unique among ``taken`` (labels may collide)."""
    base = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "entry"
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    taken.add(slug)
    return slug


def _num(value: Any) -> float:
    """A table cell as a float, NaN for a missing one, so sorting and formatting need one case."""
    return float("nan") if value is None or pd.isna(value) else float(value)


def _entry(sub: Submission, taken: set[str]) -> tuple[Entry, pd.DataFrame]:
    """A submission's entry and its score frame (the entry page's tables and plots come from it)."""
    m = sub.manifest
    df = frame([Run(m.label, sub.scores)])
    overall = table(df, []).iloc[0] if len(df) else None
    by_category = table(df, ["category"]).set_index("category") if len(df) else pd.DataFrame()
    precision = [r.precision for r in sub.scores if r.status == "scored" and r.precision is not None]
    mean = _num(overall["mean"]) if overall is not None else float("nan")
    entry = Entry(
        label=m.label,
        slug=_slug(m.label, taken),
        model=m.model,
        backend=m.backend,
        prompt=m.prompt.split("@", 1)[0],
        scorer=m.scorer,
        created=m.created,
        notes=m.notes,
        flags=sub.flags,
        scores=sub.scores,
        holobench_version=m.holobench_version,
        settings=json.dumps(m.backend_settings, sort_keys=True),
        versions=describe(m.versions["run"]) if isinstance(m.versions.get("run"), dict) else "not recorded",
        instances=len(sub.scores),
        scored=sum(r.status == "scored" for r in sub.scores),
        skipped=sum(r.status == "skipped" for r in sub.scores),
        failed=sum(r.status == "failed" for r in sub.scores),
        truncated=sum(r.status == "truncated" for r in sub.scores),
        score_value=mean,
        score="n/a" if pd.isna(mean) else f"{mean:.3f}",
        ci=""
        if overall is None or pd.isna(overall["ci_low"])
        else f"{overall['ci_low']:.3f}, {overall['ci_high']:.3f}",
        precision_value=sum(precision) / len(precision) if precision else float("nan"),
        precision=f"{sum(precision) / len(precision):.3f}" if precision else "n/a",
    )
    for c in CATEGORIES:
        value = _num(by_category.loc[c, "mean"]) if c in by_category.index else float("nan")
        entry.category_values[c] = value
        entry.category_text[c] = "–" if pd.isna(value) else f"{value:.3f}"
    return entry, df


def _table_rows(t: pd.DataFrame, by: list[str]) -> tuple[list[str], list[list[str]]]:
    """An aggregate table as header and text rows, formatted here so the template stays logic-free."""
    columns = [*by, "score [95% CI]", "n", "queries", "skipped", "failed", "truncated"]
    rows = []
    for _, r in t.iterrows():
        score = "n/a" if pd.isna(r["mean"]) else f"{r['mean']:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}]"
        rows.append(
            [
                *(f"{r[b]:g}" if isinstance(r[b], float) else str(r[b]) for b in by),
                score,
                *(str(int(r[k])) for k in ("n", "queries", "skipped", "failed", "truncated")),
            ]
        )
    return columns, rows


def _check_gold(instances: Path) -> str:
    """Refuse a suite whose gold answers the engines here do not reproduce; else say they did."""
    check = verify_gold_file(instances)
    engines = describe(check.versions)
    if not check.ok:
        generated = suite_versions(instances)
        changed = version_differences(generated, check.versions) if generated else []
        raise HoloBenchError(
            f"{instances}: {check.differ_count} of {check.instances} gold answers differ when recomputed here "
            f"({engines}), e.g. instance {check.differ[0]}"
            + (f"; generated with other versions ({'; '.join(changed)})" if changed else "")
            + "; regenerate the suite with this environment, or build the leaderboard where it was generated"
        )
    return f"all {check.instances:,} recomputed here and equal ({engines})"


def _generated_with(subs: list[Submission], instances: Path | None) -> str:
    """The versions that generated the suite (its gold): the suite manifest beside the instances
    file when there is one, else what the first submission recorded."""
    generated = suite_versions(instances) if instances is not None else {}
    if generated:
        return describe(generated)
    recorded = subs[0].manifest.versions.get("suite")
    return describe(recorded) if isinstance(recorded, dict) else "not recorded"


def _check_comparable(paths: list[Path], subs: list[Submission]) -> None:
    """Ranks mean something only between runs of one suite scored by one scorer."""
    first = subs[0].manifest
    for p, s in zip(paths, subs, strict=True):
        if s.manifest.instances_sha256 != first.instances_sha256:
            raise HoloBenchError(
                f"{p}: was run on another suite (instances sha256 {s.manifest.instances_sha256[:12]} vs "
                f"{first.instances_sha256[:12]} in {paths[0]}); build one leaderboard per suite"
            )
        if s.manifest.scorer != first.scorer:
            raise HoloBenchError(f"{p}: scored with {s.manifest.scorer!r}, not {first.scorer!r}; rescore it to compare")


def _ranked(subs: list[Submission]) -> list[tuple[Entry, pd.DataFrame]]:
    """Entries best first (no score last, ties by label), each with its rank and its score frame."""
    taken: set[str] = set()
    built = [_entry(s, taken) for s in subs]
    for index, (entry, _) in enumerate(built):
        entry.source = index
    ranked = sorted(
        built,
        key=lambda e: (
            pd.isna(e[0].score_value),
            -(e[0].score_value if not pd.isna(e[0].score_value) else 0),
            e[0].label,
        ),
    )
    for rank, (entry, _) in enumerate(ranked, start=1):
        entry.rank = rank
    return ranked


def _write_entry_pages(env: jinja2.Environment, staging: Path, ranked: list[tuple[Entry, pd.DataFrame]]) -> None:
    """``entries/<slug>.html`` and its plots, one per entry: the detail behind a row of the index."""
    for entry, df in ranked:
        computed = {name: table(df, TABLES[name]) for name in ENTRY_TABLES}
        entry_tables = []
        for name, title in ENTRY_TABLES.items():
            columns, rows = _table_rows(computed[name], TABLES[name])
            entry_tables.append({"title": title, "columns": columns, "rows": rows})
        plot_dir = staging / "entries" / entry.slug
        figures = [f"{entry.slug}/{p.name}" for p in draw_plots(df, plot_dir, computed) if p.suffix == ".png"]
        html = env.get_template("entry.html.j2").render(e=entry, total=len(ranked), tables=entry_tables, plots=figures)
        (staging / "entries" / f"{entry.slug}.html").write_text(html, encoding="utf-8")


def _summary(suite: str, gold_note: str, ranked: list[tuple[Entry, pd.DataFrame]], paired: AllPairs) -> dict[str, Any]:
    """The ranking as data (``leaderboard.json``), for scripts that would otherwise scrape the HTML."""
    return {
        "suite": suite,
        "gold": gold_note,
        "entries": [
            {
                "rank": e.rank,
                "label": e.label,
                "score": None if pd.isna(e.score_value) else round(e.score_value, 6),
                "ci": e.ci,
                "page": f"entries/{e.slug}.html",
                "viewer": e.viewer or None,
                "flags": list(e.flags),
                "separable_from_above": e.separable_above,
            }
            for e, _ in ranked
        ],
        "paired": {
            "method": PAIRED_METHOD,
            "pairs": [
                {"a_rank": i + 1, "b_rank": j + 1, **p.model_dump()} for (i, j), p in sorted(paired.pairs.items())
            ],
            "skipped": paired.skipped,
        },
    }


def _paired(ranked: list[tuple[Entry, pd.DataFrame]]) -> AllPairs:
    """Every pair of entries (higher rank minus lower), and on each entry whether it is separable
    from the entry ranked right above it."""
    found = all_pairs([Run(e.label, e.scores) for e, _ in ranked])
    for k in range(1, len(ranked)):
        entry, above = ranked[k][0], ranked[k - 1][0]
        p = found.pairs.get((k - 1, k))
        entry.separable_above = None if p is None else p.separable
        if p is not None and not p.separable:
            entry.above_note = f"{NOT_SEPARABLE} (#{above.rank} minus #{entry.rank}: {interval_text(p)})"
    return found


def _matrix(ranked: list[tuple[Entry, pd.DataFrame]], found: AllPairs) -> list[tuple[Entry, list[Cell]]]:
    """Rows of the pairwise matrix: each entry minus every entry, in rank order."""
    rows = []
    for i, (row, _) in enumerate(ranked):
        cells = []
        for j, (col, _) in enumerate(ranked):
            p = found.between(i, j)
            if i == j:
                cells.append(Cell("–", "", "self"))
                continue
            if p is None:
                cells.append(Cell("–", "no instance scored by both", "none"))
                continue
            verdict = "separable" if p.separable else "not separable: the interval includes 0"
            title = (
                f"#{row.rank} {row.label} minus #{col.rank} {col.label}: {interval_text(p)}, "
                f"{p.n_pairs} paired instances from {p.queries} queries; {verdict}"
            )
            cells.append(Cell(f"{p.diff:+.3f}", title, "sep" if p.separable else "tie"))
        rows.append((row, cells))
    return rows


def _write_viewer(
    folder: Path, ranked: list[tuple[Entry, pd.DataFrame]], subs: list[Submission], instances: Path
) -> None:
    """Every entry's answers, instance by instance, in one run viewer (entries in rank order, so
    any two can be compared); each entry links to its own view of it."""
    runs = []
    for entry, _ in ranked:
        sub = subs[entry.source]
        manifest = RunManifest(instances_sha256=sub.manifest.instances_sha256)
        runs.append(loaded(entry.label, sub.source.name, sub.predictions, entry.scores, manifest, sub.manifest.scorer))
        entry.viewer = f"viewer/index.html?run={entry.rank - 1}"
    folder.mkdir()
    suite = subs[0].manifest
    write_site(
        runs, instances, folder, title=f"HoloBench leaderboard: {suite.suite} answers", digest=suite.instances_sha256
    )


def build(paths: list[Path], out: Path, *, instances: Path | None = None, verify_gold: bool = True) -> dict[str, Any]:
    """Validate every submission, then render the site; one bad submission stops the build.

    With ``instances``, every gold answer is first recomputed with the engines installed here
    (``holobench.verify``); a suite whose gold these engines do not reproduce is refused.
    """
    if not paths:
        raise HoloBenchError("leaderboard build needs at least one submission")
    gold_note = "not recomputed (no --instances)" if instances is None else "not recomputed (--no-verify-gold)"
    if instances is not None and verify_gold:
        gold_note = _check_gold(instances)
    subs = [validate(p, instances) for p in paths]
    _check_comparable(paths, subs)
    first = subs[0].manifest
    ranked = _ranked(subs)
    paired = _paired(ranked)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined
    )
    with staged_dir(out, "site") as staging:
        (staging / "entries").mkdir()
        every = pd.concat([df for _, df in ranked], ignore_index=True)
        overall_plots = [f"plots/{p.name}" for p in draw_plots(every, staging / "plots") if p.suffix == ".png"]
        if instances is not None:
            _write_viewer(staging / "viewer", ranked, subs, instances)
        _write_entry_pages(env, staging, ranked)
        index = env.get_template("index.html.j2").render(
            entries=[e for e, _ in ranked],
            categories=[c for c in CATEGORIES if any(not pd.isna(e.category_values[c]) for e, _ in ranked)],
            suite=first.suite,
            suite_hash=first.instances_sha256,
            n_instances=first.n_instances,
            scorer=first.scorer,
            version=__version__,
            generated_with=_generated_with(subs, instances),
            gold_note=gold_note,
            plots=overall_plots,
            matrix=_matrix(ranked, paired),
            not_separable=NOT_SEPARABLE,
        )
        (staging / "index.html").write_text(index, encoding="utf-8")
        summary = _summary(first.suite, gold_note, ranked, paired)
        (staging / "leaderboard.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary
