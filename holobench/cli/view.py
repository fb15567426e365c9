"""``holobench view``: the per-instance run viewer, written as a static site (or served locally)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from holobench._io import check_output_dir
from holobench.cli.common import err, in_range, out, progress_bar


def view_cmd(
    runs: Annotated[list[Path], typer.Argument(help="run folders of one suite (scored runs show labels)")],
    output: Annotated[Path, typer.Option("--out", "-o", help="viewer folder to write")],
    instances: Annotated[
        Path | None, typer.Option(help="the suite's instances.jsonl (default: the one the runs' manifests name)")
    ] = None,
    scorer: Annotated[str, typer.Option(help="which scores to show from the run folders")] = "match",
    title: Annotated[str, typer.Option(help="the site's title")] = "HoloBench run viewer",
    serve: Annotated[bool, typer.Option("--serve", help="then serve it on 127.0.0.1 until Ctrl-C")] = False,
    port: Annotated[int, typer.Option(help="--serve: the port (0 picks a free one)")] = 0,
) -> None:
    """A static site to read runs instance by instance: filter and sort the samples, open one to
    see its gold rows, answers and the context with the lines that carry each gold row; with two
    or more runs, compare them side by side. Opens from a plain file server or file://."""
    in_range("--port", port, 0, 65535)
    check_output_dir(output, "viewer")
    from holobench.viewer import build_viewer
    from holobench.viewer import serve as serve_folder

    with progress_bar() as bar:
        task = bar.add_task("viewer", total=None)
        manifest = build_viewer(
            runs,
            output,
            instances=instances,
            scorer=scorer,
            title=title,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    for note in manifest.notes:
        err.print(f"warning: {note}", markup=False)
    out.print(f"viewer: {manifest.samples} instances, {len(manifest.runs)} runs", markup=False)
    out.print(f"open {(output / 'index.html').resolve().as_uri()}", markup=False)
    if serve:
        server = serve_folder(output, port)
        out.print(f"serving on http://127.0.0.1:{server.server_address[1]}/ (Ctrl-C stops)", markup=False)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
        finally:
            server.shutdown()
