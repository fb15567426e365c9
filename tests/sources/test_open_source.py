"""The kind:location spec."""

from __future__ import annotations

import pytest

from holobench.errors import SourceError
from holobench.sources import (
    open_source,
)

from .helpers import (
    one_line,
)


def test_unknown_source_kind_lists_the_kinds() -> None:
    with pytest.raises(SourceError) as info:
        open_source("mysql:localhost/db")
    message = one_line(str(info.value))
    assert "'mysql'" in message
    for kind in ("bundled", "spider", "hub", "sqlite", "duckdb", "files"):
        assert kind in message


@pytest.mark.parametrize("spec", ["spider", "files:", "sqlite"])
def test_source_kind_without_location(spec: str) -> None:
    with pytest.raises(SourceError, match="needs a location"):
        open_source(spec)
