"""holobench: holistic-reasoning benchmarks for long-context language models.

The public Python API; the ``holobench`` command is a thin layer over it.
"""

from holobench.errors import FaithfulnessError, HoloBenchError, QueryError, SourceError, TemplateError
from holobench.queries import QueryFile, load_query_file, validate_queries
from holobench.sources import Database, Source, open_database, open_source
from holobench.sql import columns_used, parse, suggest_categories, tables_used, to_duckdb
from holobench.types import Category, Difficulty, EngineDifference, Query, Result, TableSchema
from holobench.verbalize import check_database

__version__ = "0.1.0"

__all__ = [
    "Category",
    "Database",
    "Difficulty",
    "EngineDifference",
    "FaithfulnessError",
    "HoloBenchError",
    "Query",
    "QueryError",
    "QueryFile",
    "Result",
    "Source",
    "SourceError",
    "TableSchema",
    "TemplateError",
    "__version__",
    "check_database",
    "columns_used",
    "load_query_file",
    "open_database",
    "open_source",
    "parse",
    "suggest_categories",
    "tables_used",
    "to_duckdb",
    "validate_queries",
]
