"""One exception hierarchy: every user-facing failure is a HoloBenchError with a one-line message."""


class HoloBenchError(Exception):
    """Base class; the CLI prints the message on one line and exits non-zero."""


class SourceError(HoloBenchError):
    """A database source is missing, corrupt or inconsistent."""


class TemplateError(HoloBenchError):
    """A verbalization template cannot be loaded or rendered."""


class QueryError(HoloBenchError):
    """A query file or a single query is invalid."""


class FaithfulnessError(HoloBenchError):
    """A verbalization drops a cell value."""
