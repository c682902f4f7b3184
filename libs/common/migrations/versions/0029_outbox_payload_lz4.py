"""Outbox payloads compressed with lz4 instead of pglz, where the server has lz4.

Since 0028 one outbox row carries up to 500 alert messages, a payload of ~300-500 KB,
always compressed on insert. In the alerting benchmark a batch's outbox insert (one or
two batch rows and its case events) took 4.5 ms, 0.88 s of the drain's ~6 s of
PostgreSQL statement time (pg_stat_statements). Payloads of 500 alert messages inserted
on their own: pglz 3.7 ms a row, lz4 1.5 ms, for the same space. Rows already written
keep pglz and read as before; a server built without lz4 (the embedded one) keeps pglz.

Revision ID: 0029
Revises: 0028
Create Date: 2026-11-23 05:30:00.000000
"""

from collections.abc import Sequence

from alembic import op

from libs.common.migrations.compression import set_compression

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(set_compression("outbox", "payload", "lz4"))


def downgrade() -> None:
    op.execute(set_compression("outbox", "payload", "pglz"))
