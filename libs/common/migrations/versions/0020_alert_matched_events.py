"""Alert matched events: the source events each cased alert matched, indexed for the
chain grouping strategy (which open case holds an alert over this event).

Revision ID: 0020
Revises: 0021
Create Date: 2026-11-22 10:51:41.556107
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alert_matched_events",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=256), nullable=False),
        sa.Column("alert_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alerts.id"], name=op.f("fk_alert_matched_events_alert_id_alerts")
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id", "event_id", "alert_id", name=op.f("pk_alert_matched_events")
        ),
    )
    op.create_index(
        "ix_alert_matched_events_alert_id", "alert_matched_events", ["alert_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_alert_matched_events_alert_id", table_name="alert_matched_events")
    op.drop_table("alert_matched_events")
