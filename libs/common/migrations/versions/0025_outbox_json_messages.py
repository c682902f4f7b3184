"""Outbox headers and payloads as `json` (kept as written) instead of `jsonb`.

An outbox row is written once, read whole by the relay and published as text; nothing
queries inside it. As jsonb, every row was parsed into jsonb on insert and printed back
on claim: inserting, claiming and marking an alerts.v2 message took 45-52 µs of server
CPU as jsonb and 29-32 µs as json (2,000-row batches, measured in isolation), and two
such rows are written per alert. `->` and `->>` still work on json. The table is small
(sent rows are deleted), so the type change rewrites it quickly.

Revision ID: 0025
Revises: 0024
Create Date: 2026-11-22 18:50:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _message_columns_as(type_name: str) -> str:
    return (
        f"ALTER TABLE outbox ALTER COLUMN headers TYPE {type_name} USING headers::{type_name},"
        f" ALTER COLUMN payload TYPE {type_name} USING payload::{type_name}"
    )


def upgrade() -> None:
    op.execute(_message_columns_as("json"))


def downgrade() -> None:
    op.execute(_message_columns_as("jsonb"))
