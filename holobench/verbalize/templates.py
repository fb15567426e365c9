"""Per-table jinja2 templates: one row in, one natural sentence out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
import jinja2.meta
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from holobench.errors import SourceError, TemplateError
from holobench.verbalize.filters import FILTERS

if TYPE_CHECKING:
    from holobench.database import Database


def make_environment() -> jinja2.Environment:
    """A sandboxed environment: a template (perhaps a user's, from --templates) can format values
    but cannot reach Python internals (``cycler.__init__.__globals__.os``) or change anything."""
    env = ImmutableSandboxedEnvironment(
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters.update(FILTERS)
    return env


def one_line(text: str) -> str:
    """Templates may span lines for readability; the sentence never does."""
    return " ".join(text.split())


class TableTemplate:
    """A compiled template for one table, checked against the table's columns at load time."""

    def __init__(self, path: Path, table: str, columns: list[str], env: jinja2.Environment | None = None) -> None:
        self.path = path
        self.table = table
        env = env or make_environment()
        try:
            source = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise TemplateError(f"{path}: cannot read template for table {table!r}: {exc.strerror}") from exc
        try:
            ast = env.parse(source)
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(f"{path}:{exc.lineno}: template syntax error: {exc.message}; fix the template") from exc
        known = set(columns) | {"row"}
        unknown = sorted(jinja2.meta.find_undeclared_variables(ast) - known)
        if unknown:
            raise TemplateError(
                f"{path}: template for table {table!r} uses unknown column(s) {', '.join(unknown)}; "
                f"columns are: {', '.join(columns)}"
            )
        self.template = env.from_string(source)
        self.source = source

    def render(self, row: Mapping[str, Any]) -> str:
        context = dict(row)
        context["row"] = dict(row)
        try:
            return one_line(self.template.render(context))
        except jinja2.UndefinedError as exc:
            raise TemplateError(f"{self.path}: {exc.message} while rendering a row of {self.table!r}") from exc
        except SecurityError as exc:
            raise TemplateError(
                f"{self.path}: the template tries an unsafe operation ({exc}); a template may only format values"
            ) from exc
        except (TypeError, ValueError) as exc:
            raise TemplateError(f"{self.path}: {exc} while rendering a row of {self.table!r}") from exc


def attach_templates(db: Database, folder: Path) -> int:
    """Use ``folder/<table>.j2`` for each table that has one; returns how many were attached."""
    if not folder.is_dir():
        return 0
    env = make_environment()
    attached = 0
    for path in sorted(folder.glob("*.j2")):
        table = path.stem
        try:
            name = db.table_name(table)
        except SourceError:
            raise TemplateError(
                f"{path}: template for unknown table {table!r}; tables of {db.db_id}: {', '.join(db.tables)}"
            ) from None
        db.set_verbalizer(name, TemplateVerbalizer(TableTemplate(path, name, db.schema(name).column_names, env)))
        attached += 1
    return attached


class TemplateVerbalizer:
    """Verbalizer backed by a table template."""

    def __init__(self, template: TableTemplate) -> None:
        self.template = template
        self.name = f"template:{template.path.name}"

    def verbalize_rows(self, rows: Sequence[Mapping[str, Any]]) -> list[str]:
        return [self.template.render(r) for r in rows]

    def fingerprint(self) -> str | None:
        from holobench.verbalize import filters
        from holobench.verbalize.generic import code_fingerprint

        return code_fingerprint(__file__, filters.__file__, jinja2.__version__, self.template.source)
