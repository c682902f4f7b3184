"""alert fingerprints

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-22 09:28:45.956884
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("alerts", sa.Column("fingerprint", sa.String(length=64), nullable=True))
    op.create_index(
        "ix_alerts_tenant_fingerprint",
        "alerts",
        ["tenant_id", "fingerprint", "effective_time"],
        unique=False,
        postgresql_where=sa.text("fingerprint IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_alerts_tenant_fingerprint",
        table_name="alerts",
        postgresql_where=sa.text("fingerprint IS NOT NULL"),
    )
    op.drop_column("alerts", "fingerprint")
