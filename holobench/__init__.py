"""holobench: holistic-reasoning benchmarks for long-context language models.

The public Python API; the ``holobench`` command is a thin layer over it.
"""

from holobench._version import __version__
from holobench.context import GenerationError, InstanceBuilder
from holobench.errors import FaithfulnessError, HoloBenchError, QueryError, SourceError, TemplateError
from holobench.queries import QueryFile, load_query_file, validate_queries
from holobench.records import (
    Category,
    Difficulty,
    EngineDifference,
    Instance,
    LineSource,
    Placement,
    Query,
    Result,
    TableSchema,
)
from holobench.sources import Database, Source, open_database, open_source
from holobench.sql import columns_used, parse, suggest_categories, tables_used, to_duckdb
from holobench.suite import Suite, generate_suite, load_suite
from holobench.tokenizers import Tokenizer, get_tokenizer
from holobench.verbalize import check_database

__all__ = [
    "Category",
    "Database",
    "Difficulty",
    "EngineDifference",
    "FaithfulnessError",
    "GenerationError",
    "HoloBenchError",
    "Instance",
    "InstanceBuilder",
    "LineSource",
    "Placement",
    "Query",
    "QueryError",
    "QueryFile",
    "Result",
    "Source",
    "SourceError",
    "Suite",
    "TableSchema",
    "TemplateError",
    "Tokenizer",
    "__version__",
    "check_database",
    "columns_used",
    "generate_suite",
    "get_tokenizer",
    "load_query_file",
    "load_suite",
    "open_database",
    "open_source",
    "parse",
    "suggest_categories",
    "tables_used",
    "to_duckdb",
    "validate_queries",
]
