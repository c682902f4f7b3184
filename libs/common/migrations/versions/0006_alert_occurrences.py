"""alert occurrences: repeats of a detection id are counted on its alert

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 07:55:42.627682
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "detection_occurrences",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("occurrence_id", sa.String(length=128), nullable=False),
        sa.Column("detection_id", sa.String(length=256), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "occurrence_id", name=op.f("pk_detection_occurrences")
        ),
    )
    op.add_column("alerts", sa.Column("occurrence_id", sa.String(length=128), nullable=True))
    op.add_column(
        "alerts",
        sa.Column("occurrence_count", sa.Integer(), server_default=sa.text("1"), nullable=False),
    )
    # Existing alerts were seen once, when they were ingested.
    op.add_column("alerts", sa.Column("last_seen", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE alerts SET last_seen = ingested_at")
    op.alter_column("alerts", "last_seen", nullable=False)


def downgrade() -> None:
    op.drop_column("alerts", "last_seen")
    op.drop_column("alerts", "occurrence_count")
    op.drop_column("alerts", "occurrence_id")
    op.drop_table("detection_occurrences")
