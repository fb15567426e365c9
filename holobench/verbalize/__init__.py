"""Row -> one sentence: templates, a generic fallback, an LLM verbalizer, and the faithfulness check."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from holobench.database import Database
from holobench.verbalize.faithfulness import Missing, check_sentence, value_present
from holobench.verbalize.generic import GenericVerbalizer
from holobench.verbalize.templates import TableTemplate, TemplateVerbalizer, attach_templates

__all__ = [
    "FaithfulnessReport",
    "GenericVerbalizer",
    "Missing",
    "TableTemplate",
    "TemplateVerbalizer",
    "attach_templates",
    "check_database",
    "check_sentence",
    "value_present",
]


@dataclass
class FaithfulnessReport:
    """Per-table row counts and every value a sentence drops."""

    db_id: str
    rows: dict[str, int] = field(default_factory=dict)
    verbalizers: dict[str, str] = field(default_factory=dict)
    missing: list[Missing] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.missing

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def check_database(db: Database, tables: Iterable[str] | None = None) -> FaithfulnessReport:
    """Render every row of every table (or ``tables``) and check each sentence against its row."""
    report = FaithfulnessReport(db_id=db.db_id)
    for table in tables if tables is not None else db.tables:
        name = db.table_name(table)
        sentences = db.sentences(name)
        report.rows[name] = len(sentences)
        report.verbalizers[name] = db.verbalizer(name).name
        for i, (row, sentence) in enumerate(zip(db.row_dicts(name), sentences, strict=True)):
            report.missing.extend(check_sentence(name, i, row, sentence))
    return report
