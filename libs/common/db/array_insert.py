"""Many rows in one INSERT over column arrays (`INSERT ... SELECT * FROM unnest(...)`).

One parameter per column holds that column's values for every row, so the statement text
is the same whatever the number of rows: asyncpg prepares it once per connection and
encodes each array in one go. SQLAlchemy's bulk insert instead rendered a multi-row
VALUES list (a new statement to compile in Python and to plan in PostgreSQL for every
batch size) and processed every row's parameters in Python: ~8 % of alerting's CPU for
its batches of alerts and outbox rows."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from sqlalchemy import TextClause, text

from libs.common.db.jsonb import serialize_json


@dataclass(frozen=True)
class ArrayInsert:
    table: str
    # Column name -> the PostgreSQL type of its values; columns left out take their
    # defaults. Values of json/jsonb columns are serialized here (serialize_json).
    columns: Mapping[str, str]
    # What follows the SELECT: ON CONFLICT, RETURNING.
    tail: str = ""
    # Values of columns a row may leave out (otherwise NULL).
    defaults: Mapping[str, Any] = field(default_factory=dict)
    # Text columns that hold JSON documents (db.columns.JSONText): their values are
    # serialized like those of json columns.
    documents: frozenset[str] = frozenset()
    # Rows per statement, so a statement's size does not grow with the batch (alerting
    # allows 10,000 detections of any size per batch): 250 alerts of 5.6 KB are ~1.4 MB.
    # Against one statement per batch of 1,000: peak RSS of the alerting benchmark
    # 210-223 instead of 231-253 MiB, CPU per row unchanged (docs/benchmarks.md,
    # session 7). Each statement is a round trip, so not much smaller.
    rows_per_statement: int = 250

    @cached_property
    def statement(self) -> TextClause:
        names = ", ".join(self.columns)
        # unnest() flattens an array of arrays, so an array column travels as one array
        # literal per row (text) and is cast back to its type row by row.
        arrays = ", ".join(
            f"CAST(:{name} AS {'text' if _is_array(kind) else kind}[])"
            for name, kind in self.columns.items()
        )
        values = ", ".join(
            f"CAST({name} AS {kind})" if _is_array(kind) else name
            for name, kind in self.columns.items()
        )
        return text(
            f"INSERT INTO {self.table} ({names}) SELECT {values}"  # noqa: S608 - names are constants of the caller
            f" FROM unnest({arrays}) AS r({names}) {self.tail}"
        )

    def parameter_chunks(self, rows: Sequence[Mapping[str, Any]]) -> Iterator[dict[str, list[Any]]]:
        """The parameters of each statement that inserts `rows`, in their order."""
        for start in range(0, len(rows), self.rows_per_statement):
            yield self.parameters(rows[start : start + self.rows_per_statement])

    def parameters(self, rows: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
        arrays: dict[str, list[Any]] = {}
        for name, kind in self.columns.items():
            default = self.defaults.get(name)
            values = [row.get(name, default) for row in rows]
            if kind in ("json", "jsonb") or name in self.documents:
                values = [None if v is None else serialize_json(v) for v in values]
            elif _is_array(kind):
                values = [None if v is None else array_literal(v) for v in values]
            arrays[name] = values
        return arrays


def _is_array(kind: str) -> bool:
    return kind.endswith("[]")


def array_literal(items: Sequence[str]) -> str:
    """PostgreSQL's text form of a one-dimensional text array: every element quoted, with
    its backslashes and double quotes escaped, so any value reads back as written."""
    quoted = (item.replace("\\", "\\\\").replace('"', '\\"') for item in items)
    return "{" + ",".join(f'"{item}"' for item in quoted) + "}"
