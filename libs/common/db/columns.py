"""Column factories so every table spells timestamps, JSON and tenants the same way."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Column, DateTime, Integer, String, Text, text
from sqlalchemy.dialects.postgresql import ARRAY, JSON, JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from libs.common.db.jsonb import serialize_json


def tz_column(*, nullable: bool = False, server_now: bool = False, index: bool = False) -> Any:
    default = text("now()") if server_now else None
    return Column(DateTime(timezone=True), nullable=nullable, server_default=default, index=index)


def json_column(*, nullable: bool = False) -> Any:
    return Column(JSONB, nullable=nullable)


def message_column() -> Any:
    """JSON kept as written (`json`, not `jsonb`): a message body or document stored once
    and read whole, so Postgres neither converts it to jsonb on insert nor prints it back
    on read. `->` and `->>` still work; the json_* functions, not jsonb_*, walk it."""
    return Column(JSON, nullable=False)


class JSONText(TypeDecorator[Any]):
    """A JSON document kept as `text`: written as serialized (a SerializedJSON as is),
    read back parsed. Postgres neither converts nor checks it, so only documents this
    code serialized (or validated, like a detection from the wire) go in."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else serialize_json(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        return None if value is None else json.loads(value)


def document_column() -> Any:
    """A large JSON document stored once, read whole and never queried inside (an
    alert's detection): `text`, so an insert does not lex it as `json` would (a third
    of a 5.6 KB detection's insert cost). SQL that must look inside casts it to json."""
    return Column(JSONText, nullable=False)


def tenant_column() -> Any:
    return Column(String(64), nullable=False)


def stored_at_column() -> Any:
    return Column(DateTime(timezone=True), nullable=False, server_default=text("clock_timestamp()"))


def tags_column() -> Any:
    return Column(ARRAY(String(128)), nullable=False, server_default=text("'{}'"))


def count_column() -> Any:
    return Column(Integer, nullable=False, server_default=text("1"))
