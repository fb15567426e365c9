"""The ``holobench`` command: a thin typer layer over the public API.

One module per command group (``generate``, ``run``, ``score``, ``data``, ``submit``, ``export``) and the
pieces they share in ``common``; this module puts them in one app, in the order ``--help``
lists them, and turns every failure into the one-line error contract of :func:`main`.
"""

from __future__ import annotations

import sys

import typer

from holobench.cli import data, export, generate, run, score, submit, view
from holobench.cli.common import err, out
from holobench.errors import HoloBenchError, field_problem

__all__ = ["app", "err", "main", "out"]


def _assemble() -> typer.Typer:
    """The root app: its commands, then its groups, each in the order ``--help`` lists them."""
    root = typer.Typer(
        help="HoloBench: holistic-reasoning benchmarks for long-context models.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
    )
    root.command("generate")(generate.generate)
    root.command("run")(run.run)
    root.command("merge")(run.merge)
    root.command("score")(score.score)
    root.command("agreement")(score.agreement_cmd)
    root.command("report")(score.report_cmd)
    root.command("view")(view.view_cmd)
    root.command("export")(export.export_cmd)
    root.command("versions")(data.versions_cmd)
    root.add_typer(data.db_app, name="db")
    root.add_typer(data.verbalize_app, name="verbalize")
    root.add_typer(data.queries_app, name="queries")
    root.add_typer(generate.suite_app, name="suite")
    root.add_typer(submit.submit_app, name="submit")
    root.add_typer(submit.leaderboard_app, name="leaderboard")
    return root


app = _assemble()


def main() -> None:
    """The console script: usage errors and expected failures are one line on stderr and exit 2,
    never a traceback; a command's own exit code (1: something checked failed) passes through."""
    from pydantic import ValidationError

    # typer carries its own copy of click (pinned in requirements/); its usage errors are these
    from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError

    try:
        code = app(standalone_mode=False)
    except NoArgsIsHelpError as exc:  # a bare group: its help, as click shows it
        exc.show()
        sys.exit(2)
    except ClickException as exc:  # a missing or malformed option: the same one-line contract
        ctx = exc.ctx if isinstance(exc, UsageError) else None
        command = ctx.command_path if ctx is not None else "holobench"
        err.print(f"error: {command}: {exc.format_message()} (see {command} --help)", markup=False)
        sys.exit(2)
    except typer.Abort:  # Ctrl-C at a prompt
        err.print("error: holobench: aborted", markup=False)
        sys.exit(130)
    except HoloBenchError as exc:
        err.print(f"error: {exc}", markup=False)
        sys.exit(2)
    except OSError as exc:  # a full or read-only disk midway: finished results are kept, no traceback
        where = exc.filename or "holobench"
        err.print(
            f"error: {where}: {exc.strerror or exc}; free space or choose a writable path, then run again",
            markup=False,
        )
        sys.exit(2)
    except ValidationError as exc:  # a setting no option check caught: still one line, exit 2
        problem = field_problem(exc.errors()[0], exc.title)
        err.print(f"error: {exc.title}: {problem} (check the matching option)", markup=False)
        sys.exit(2)
    sys.exit(code if isinstance(code, int) else 0)
