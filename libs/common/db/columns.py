"""Column factories so every table spells timestamps, JSON and tenants the same way."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, DateTime, Integer, String, text
from sqlalchemy.dialects.postgresql import ARRAY, JSON, JSONB


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


def tenant_column() -> Any:
    return Column(String(64), nullable=False)


def stored_at_column() -> Any:
    return Column(DateTime(timezone=True), nullable=False, server_default=text("clock_timestamp()"))


def tags_column() -> Any:
    return Column(ARRAY(String(128)), nullable=False, server_default=text("'{}'"))


def count_column() -> Any:
    return Column(Integer, nullable=False, server_default=text("1"))
