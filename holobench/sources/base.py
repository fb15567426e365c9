"""The Source interface: where databases come from. A source opens a :class:`Database`
(:mod:`holobench.database`) and says where its templates and questions are."""

from __future__ import annotations

import abc
from pathlib import Path
from typing import ClassVar

from holobench.database import Database
from holobench.errors import SourceError
from holobench.records import Query


class Source(abc.ABC):
    """Where databases come from: bundled data, a Spider folder, the hub format, plain files."""

    name: str = "source"

    #: whether a location must follow the kind in a spec (``spider:<dir>``; ``bundled`` needs none)
    needs_location: ClassVar[bool] = True

    #: whether ``--templates`` applies: a folder of templates for data that ships none
    takes_templates: ClassVar[bool] = False

    @classmethod
    def from_location(cls, location: str, templates: Path | None = None) -> Source:
        """The source a ``kind:location`` spec names (the registry in ``sources/__init__.py``)."""
        return cls(Path(location).expanduser())  # type: ignore[call-arg]  # file sources take a path

    @abc.abstractmethod
    def list_databases(self) -> list[str]: ...

    @abc.abstractmethod
    def open(self, db_id: str) -> Database: ...

    def queries(self, db_id: str) -> list[Query]:
        """Questions shipped with this source for ``db_id`` (none unless the source has some)."""
        return []

    def describe(self) -> str:
        return self.name

    def revision(self) -> str | None:
        """The exact version of remote data that was read (a hub commit), for the manifest;
        None for local data, whose content the generated instances already pin."""
        return None

    def _unknown(self, db_id: str) -> SourceError:
        have = ", ".join(self.list_databases()) or "none"
        return SourceError(f"{self.describe()}: no database {db_id!r}; available: {have}")
