"""Outbox rows that carry many messages of one topic (libs/common/outbox_batches.py).

Alerting wrote one outbox row per alert message, two per cased alert: in the alerting
benchmark the outbox's inserts and the relay's deletes were a third of PostgreSQL's
time. A batch row holds up to 500 messages; `batch_messages` counts them and is NULL on
a row that is one message (every row written before this revision, every case event).

Revision ID: 0028
Revises: 0027
Create Date: 2026-11-23 02:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("batch_messages", sa.Integer(), nullable=True))
    op.create_check_constraint(
        op.f("ck_outbox_batch_messages_positive"), "outbox", "batch_messages >= 1"
    )


def downgrade() -> None:
    # Unsent batch rows would be lost as messages: a downgrade refuses while any is left.
    op.execute(
        "DO $$ BEGIN IF EXISTS (SELECT 1 FROM outbox WHERE batch_messages IS NOT NULL"
        " AND sent_at IS NULL) THEN RAISE EXCEPTION 'unsent outbox batch rows: let the relay"
        " publish them first'; END IF; END $$"
    )
    op.execute("DELETE FROM outbox WHERE batch_messages IS NOT NULL")
    op.drop_constraint(op.f("ck_outbox_batch_messages_positive"), "outbox", type_="check")
    op.drop_column("outbox", "batch_messages")
