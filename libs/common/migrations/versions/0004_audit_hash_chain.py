"""audit hash chain

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22

Adds the per-case hash chain to case_events and computes it for the events already
stored, in their order. The append-only trigger is disabled for the backfill only,
inside this migration's transaction.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from libs.common.casestore.chain import event_hash

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("case_events", sa.Column("prev_hash", sa.String(length=64), nullable=True))
    op.add_column("case_events", sa.Column("hash", sa.String(length=64), nullable=True))
    connection = op.get_bind()
    rows = connection.execute(
        sa.text(
            "SELECT seq, event_id, tenant_id, case_id, type, actor, occurred_at, payload "
            "FROM case_events ORDER BY case_id, seq"
        )
    ).all()
    op.execute("ALTER TABLE case_events DISABLE TRIGGER case_events_append_only")
    previous: dict[object, str] = {}
    for row in rows:
        prev = previous.get(row.case_id)
        digest = event_hash(
            prev,
            event_id=row.event_id,
            tenant_id=row.tenant_id,
            case_id=row.case_id,
            type=row.type,
            actor=row.actor,
            occurred_at=row.occurred_at,
            payload=row.payload,
        )
        connection.execute(
            sa.text("UPDATE case_events SET prev_hash = :prev, hash = :hash WHERE seq = :seq"),
            {"prev": prev, "hash": digest, "seq": row.seq},
        )
        previous[row.case_id] = digest
    op.execute("ALTER TABLE case_events ENABLE TRIGGER case_events_append_only")
    op.alter_column("case_events", "hash", nullable=False)


def downgrade() -> None:
    op.drop_column("case_events", "hash")
    op.drop_column("case_events", "prev_hash")
