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
        arrays = ", ".join(f"CAST(:{name} AS {kind}[])" for name, kind in self.columns.items())
        return text(
            f"INSERT INTO {self.table} ({names}) SELECT * FROM unnest({arrays}) {self.tail}"  # noqa: S608 - names are constants of the caller
        )

    def parameters(self, rows: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
        arrays: dict[str, list[Any]] = {}
        for name, kind in self.columns.items():
            default = self.defaults.get(name)
            values = [row.get(name, default) for row in rows]
            if kind in ("json", "jsonb"):
                values = [None if v is None else serialize_json(v) for v in values]
            arrays[name] = values
        return arrays
