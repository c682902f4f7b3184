"""Many rows in one INSERT over column arrays (`INSERT ... SELECT * FROM unnest(...)`).

One parameter per column holds that column's values for every row, so the statement text
is the same whatever the number of rows: asyncpg prepares it once per connection and
encodes each array in one go. SQLAlchemy's bulk insert instead rendered a multi-row
VALUES list (a new statement to compile in Python and to plan in PostgreSQL for every
batch size) and processed every row's parameters in Python: ~8 % of alerting's CPU for
its batches of alerts and outbox rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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

    def parameters(self, rows: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
        arrays: dict[str, list[Any]] = {}
        for name, kind in self.columns.items():
            default = self.defaults.get(name)
            values = [row.get(name, default) for row in rows]
            if kind in ("json", "jsonb"):
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
