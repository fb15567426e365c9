"""``holobench view``: run folders -> a static site to read a run instance by instance.

``index.html`` is the sample table (filters, sort, search, counts, and with two or more runs the
comparison filters); ``instance.html?id=<file>`` is one instance: question, SQL, gold rows with
each run's labels, the answers, and the context paged so that a 1M-token instance opens at once,
with relevant lines highlighted, the lines that carry each gold row marked and a minimap of where
they sit. Everything is written into a staging folder and moved into place at the end.
"""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jinja2
from pydantic import BaseModel

from holobench._io import atomic_write_text, naming, staged_dir
from holobench._version import __version__
from holobench.errors import HoloBenchError
from holobench.jsonl import file_hash, leading_id, read_instances
from holobench.position import carried_rows, compute_carriers, decile
from holobench.records import Instance
from holobench.viewer.data import LoadedRun, Sample, instance_view, instances_file, label_runs, load_run, sample

PACKAGE = Path(__file__).resolve().parent
Progress = Callable[[int, int], None] | None  # (instances written, instances in all)
#: What a viewer folder holds; an existing folder without it is never replaced.
MANIFEST = "viewer.json"


class ViewerManifest(BaseModel):
    """``viewer.json``: what the site was built from."""

    holobench_version: str
    instances: str
    instances_sha256: str
    runs: list[dict[str, Any]]
    samples: int
    notes: list[str] = []


_MARKUP = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


def _js(name: str, value: object) -> str:
    """A script that assigns ``value``. JSON with non-ASCII escaped is valid JavaScript; ``<``,
    ``>`` and ``&`` (which JSON only has inside strings) are escaped too, so no data file holds
    markup even if someone inlines it into a page."""
    text = json.dumps(value, ensure_ascii=True, separators=(",", ":")).translate(_MARKUP)
    return f"window.{name} = {text};\n"


def _positions(
    instance: Instance, runs: Sequence[LoadedRun], carriers: list[list[int]]
) -> list[list[tuple[int, float, float]]]:
    """Per run, by decile of the context: how many judged gold rows are carried there (each row
    spread evenly over its carrier lines) and how much of them the run found."""
    out = []
    n = len(instance.lines)
    for run in runs:
        record = run.scores.get(instance.id)
        found: dict[int, list[float]] = {}
        for _, _, position, credit, weight in carried_rows(record, carriers, n) if record is not None else ():
            cell = found.setdefault(decile(position), [0.0, 0.0])
            cell[0] += weight
            cell[1] += credit * weight
        out.append([(d, round(w, 6), round(f, 6)) for d, (w, f) in sorted(found.items())])
    return out


def _line_id(line: str) -> object:
    """The record's id: read from the line's start when holobench wrote it, else parsed."""
    found = leading_id(line)
    if found is None and line.strip():
        try:
            record = json.loads(line)
        except ValueError:
            return None  # reading the instances later names the broken line
        return record.get("id") if isinstance(record, dict) else None
    return found


def _check_ids(path: Path, ids: set[str]) -> None:
    """Every instance a run answered is in the file, checked before any work (ids lead each line)."""
    with naming(path), path.open(encoding="utf-8", errors="replace") as fh:
        missing = ids - {_line_id(line) for line in fh}
    if missing:
        raise HoloBenchError(
            f"{path}: has no instance {sorted(missing)[0]} that a run answered ({len(missing)} missing); "
            "pass the instances file the runs were made on"
        )


def _carriers(path: Path, ids: set[str], notes: list[str]) -> dict[str, list[list[int]]]:
    """The lines that carry each gold row; when the instances' source cannot be opened here (a hub
    dataset, a moved Spider folder) the viewer is still written, without those marks, and says so."""
    untraced: dict[str, str] = {}
    try:
        found = compute_carriers(path, ids, untraced=untraced)
    except HoloBenchError as exc:
        notes.append(f"the lines that carry each gold row are not marked: {exc}")
        return {}
    if untraced:
        first = min(untraced)
        notes.append(
            f"{len(untraced)} instances could not be traced, so their lines carry no marks "
            f"(for example {first}: {untraced[first]})"
        )
    return found


def _write_instances(
    path: Path, runs: Sequence[LoadedRun], staging: Path, progress: Progress, notes: list[str]
) -> list[Sample]:
    ids = set().union(*(r.predictions.keys() | r.scores.keys() for r in runs))
    _check_ids(path, ids)
    carriers = _carriers(path, ids, notes)
    folder = staging / "data" / "i"
    folder.mkdir(parents=True)
    samples: list[Sample] = []
    for instance in read_instances(path, lambda i: i not in ids):
        found = carriers.get(instance.id, [[] for _ in instance.gold.rows])
        row = sample(instance, runs, _positions(instance, runs, found))
        view = instance_view(instance, runs, found)
        (folder / f"{row.file}.js").write_text(_js("HOLO_INSTANCE", view.model_dump(mode="json")), encoding="utf-8")
        samples.append(row)
        if progress is not None:
            progress(len(samples), len(ids))
    return samples


def _render(staging: Path, title: str) -> None:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(PACKAGE / "templates"), autoescape=True, undefined=jinja2.StrictUndefined
    )
    for page in ("index.html", "instance.html"):
        html = env.get_template(f"{page}.j2").render(title=title, version=__version__)
        (staging / page).write_text(html, encoding="utf-8")
    shutil.copytree(PACKAGE / "static", staging / "assets")


def write_site(
    runs: Sequence[LoadedRun],
    instances: Path,
    folder: Path,
    *,
    title: str,
    progress: Progress = None,
    digest: str | None = None,
) -> ViewerManifest:
    """Write the viewer of ``runs`` (already loaded and labelled) into the empty ``folder``; the
    leaderboard calls this for its entries inside its own staging folder. ``digest``: the
    instances file's sha256 when the caller has it already (a paper suite is 750 MB)."""
    notes: list[str] = []
    samples = _write_instances(instances, runs, folder, progress, notes)
    infos = [r.info.model_dump(mode="json") for r in runs]
    index = {"title": title, "runs": infos, "notes": notes, "samples": [s.model_dump(mode="json") for s in samples]}
    atomic_write_text(folder / "data" / "index.js", _js("HOLO_INDEX", index))
    _render(folder, title)
    manifest = ViewerManifest(
        holobench_version=__version__,
        instances=str(instances),
        instances_sha256=digest or file_hash(instances),
        runs=infos,
        samples=len(samples),
        notes=notes,
    )
    atomic_write_text(folder / MANIFEST, manifest.model_dump_json(indent=2) + "\n")
    return manifest


def build_viewer(
    run_paths: Sequence[Path],
    out: Path,
    *,
    instances: Path | None = None,
    scorer: str = "match",
    title: str = "HoloBench run viewer",
    progress: Progress = None,
) -> ViewerManifest:
    """Write the viewer for ``run_paths`` (run or submission folders of one suite) into ``out``."""
    if not run_paths:
        raise HoloBenchError("view needs at least one run folder")
    runs = [load_run(p, scorer) for p in run_paths]
    label_runs(runs)
    path, digest = instances_file(runs, instances)
    with staged_dir(out, "viewer") as staging:
        return write_site(runs, path, staging, title=title, progress=progress, digest=digest)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve(folder: Path, port: int = 0) -> http.server.ThreadingHTTPServer:
    """Serve ``folder`` on 127.0.0.1 (only this machine can connect) in a background thread;
    port 0 picks a free one. The caller shuts the server down."""
    if not (folder / MANIFEST).is_file():
        raise HoloBenchError(f"{folder}: not a viewer folder (no {MANIFEST}); build one with 'holobench view'")
    handler = functools.partial(_QuietHandler, directory=str(folder))
    try:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    except OSError as exc:
        raise HoloBenchError(f"127.0.0.1:{port}: cannot listen ({exc.strerror}); pick another --port or 0") from exc
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
