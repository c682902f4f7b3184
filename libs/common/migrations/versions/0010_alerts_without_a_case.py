"""alerts without a case: the policy may keep a detection from opening one

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-22 08:52:59.459464
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.alter_column("alerts", "case_id", existing_type=sa.UUID(), nullable=True)


def downgrade() -> None:
    # Fails while alerts without a case exist: attach or delete them first.
    op.alter_column("alerts", "case_id", existing_type=sa.UUID(), nullable=False)
