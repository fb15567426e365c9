"""The records of a database question: schemas, a query, and its result."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Category(StrEnum):
    """The paper's five query types, and Selection for a lookup that none of them describes.

    Categories label results in reports; they are not a precondition for generating a query.
    """

    AGGREGATION = "Aggregation"
    MAX_MIN = "Max/Min"
    JOIN = "Join"
    COMPARISON = "Comparison"
    RANKING = "Ranking"
    SELECTION = "Selection"


class Difficulty(StrEnum):
    EASY = "easy"
    MEDIUM = "medium"
    HARD = "hard"


class EngineDifference(StrEnum):
    """SQLite behaviours that differ from DuckDB and that the SQL layer reproduces."""

    INTEGER_DIVISION = "integer_division"
    TEXT_NUMBER_COMPARISON = "text_number_comparison"
    LIKE_ON_DATE = "like_on_date"
    NULL_ORDERING = "null_ordering"
    BARE_GROUP_BY_COLUMN = "bare_group_by_column"
    LIKE_CASE_INSENSITIVE = "like_case_insensitive"
    ROUND_AS_WRITTEN = "round_as_written"


class Column(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    type: str = Field(description="DuckDB type the column is loaded as")
    declared_type: str = Field(default="", description="type as declared by the source, if any")


class ForeignKey(BaseModel):
    model_config = ConfigDict(frozen=True)

    column: str
    ref_table: str
    ref_column: str


class TableSchema(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()
    foreign_keys: tuple[ForeignKey, ...] = ()
    row_count: int = 0

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


class Query(BaseModel):
    """One benchmark question: SQL (SQLite dialect unless stated) plus its natural-language form."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    db_id: str = Field(min_length=1)
    question: str = Field(min_length=1)
    sql: str = Field(min_length=1)
    categories: tuple[Category, ...] = Field(min_length=1)
    difficulty: Difficulty
    dialect: str = "sqlite"
    exercises: tuple[EngineDifference, ...] = ()

    @field_validator("categories")
    @classmethod
    def _unique_categories(cls, value: tuple[Category, ...]) -> tuple[Category, ...]:
        if len(set(value)) != len(value):
            raise ValueError("categories listed twice")
        return tuple(sorted(value, key=list(Category).index))


class Result(BaseModel):
    """A query result with JSON-native values, in a deterministic row order."""

    columns: list[str]
    rows: list[list[object]]
