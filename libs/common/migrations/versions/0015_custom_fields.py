"""Custom fields: per-tenant definitions, and the cases' JSONB values with a GIN
(jsonb_path_ops) index for the list's cf.<key>=<value> containment filters; case templates.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-22 09:30:09.792391
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "custom_field_definitions",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("label", sa.String(length=256), nullable=False),
        sa.Column("required", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column(
            "options",
            postgresql.ARRAY(sa.String(length=256)),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column("max_length", sa.Integer(), nullable=True),
        sa.Column("changed_by", sa.String(length=256), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("tenant_id", "key", name=op.f("pk_custom_field_definitions")),
    )
    op.create_table(
        "case_templates",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("title_prefix", sa.String(length=128), nullable=False),
        sa.Column(
            "tags",
            postgresql.ARRAY(sa.String(length=128)),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column(
            "custom_fields",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("changed_by", sa.String(length=256), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("tenant_id", "name", name=op.f("pk_case_templates")),
    )
    op.add_column(
        "cases",
        sa.Column(
            "custom_fields",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
    )
    op.create_index(
        "ix_cases_custom_fields",
        "cases",
        ["custom_fields"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"custom_fields": "jsonb_path_ops"},
    )


def downgrade() -> None:
    op.drop_index(
        "ix_cases_custom_fields",
        table_name="cases",
        postgresql_using="gin",
        postgresql_ops={"custom_fields": "jsonb_path_ops"},
    )
    op.drop_column("cases", "custom_fields")
    op.drop_table("case_templates")
    op.drop_table("custom_field_definitions")
