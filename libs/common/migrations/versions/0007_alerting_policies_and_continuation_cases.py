"""alerting policies and continuation cases

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 08:09:32.574386
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "alerting_policies",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("policy", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("created_by", sa.String(length=256), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "version", name=op.f("pk_alerting_policies")),
    )
    op.add_column("cases", sa.Column("continues_case_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        op.f("fk_cases_continues_case_id_cases"), "cases", "cases", ["continues_case_id"], ["id"]
    )


def downgrade() -> None:

    op.drop_constraint(op.f("fk_cases_continues_case_id_cases"), "cases", type_="foreignkey")
    op.drop_column("cases", "continues_case_id")
    op.drop_table("alerting_policies")
