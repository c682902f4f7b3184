"""Purged attachment objects: the S3 objects of attachments whose rows a retention purge
removed, recorded in the purge's transaction and removed once the purger deleted them
from the bucket (a store that is down leaves them here for the next round).

Revision ID: 0023
Revises: 0019
Create Date: 2026-11-22 14:15:33.207024
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "purged_attachment_objects",
        sa.Column("object_key", sa.String(length=1024), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("object_key", name=op.f("pk_purged_attachment_objects")),
    )
    op.create_index(
        "ix_purged_attachment_objects_tenant_attempts",
        "purged_attachment_objects",
        ["tenant_id", "attempts", "recorded_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        "ix_purged_attachment_objects_tenant_attempts", table_name="purged_attachment_objects"
    )
    op.drop_table("purged_attachment_objects")
