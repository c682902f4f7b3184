"""SQL for migrations that choose how PostgreSQL compresses a large column's values."""

from __future__ import annotations


def set_compression(table: str, column: str, method: str) -> str:
    """`ALTER ... SET COMPRESSION`, or a notice where the server was built without the
    method (lz4 is optional at build time; pglz is always there). Only values written
    afterwards change; stored ones keep their compression and read as before."""
    return f"""
DO $$
BEGIN
    ALTER TABLE {table} ALTER COLUMN {column} SET COMPRESSION {method};
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'no {method} on this server: {table}.{column} keeps its compression';
END
$$"""


def alter_with_compression(table: str, alter: str, column: str, method: str) -> str:
    """`ALTER TABLE table <alter>` that rewrites `column` (a new type), with `method` set
    in the same statement so the rewritten values are compressed by it (a type change
    alone resets the column to the server's default); without it where the server
    cannot."""
    return f"""
DO $$
BEGIN
    ALTER TABLE {table} {alter}, ALTER COLUMN {column} SET COMPRESSION {method};
EXCEPTION WHEN feature_not_supported THEN
    ALTER TABLE {table} {alter};
END
$$"""
