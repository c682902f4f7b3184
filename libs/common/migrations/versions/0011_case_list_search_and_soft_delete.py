"""case list filters, sorts, entity index, full-text search and soft delete

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-22 08:43:30.323676
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEVERITY_RANK = (
    "CASE severity WHEN 'info' THEN 0 WHEN 'low' THEN 1 WHEN 'medium' THEN 2 "
    "WHEN 'high' THEN 3 WHEN 'critical' THEN 4 END"
)
# Immutable, so a generated column may call it.
FOLD_TAGS = (
    "CREATE FUNCTION casestream_fold_tags(tags text[]) RETURNS text[] "
    "LANGUAGE sql IMMUTABLE PARALLEL SAFE AS "
    "$$ SELECT coalesce(array_agg(lower(t)), '{}') FROM unnest(tags) AS t $$"
)
CASE_SEARCH_VECTOR = (
    "setweight(to_tsvector('english', coalesce(title, '')), 'A') || "
    "setweight(to_tsvector('english', coalesce(description, '')), 'B') || "
    "setweight(to_tsvector('english', coalesce(investigation_summary, '') || ' ' || "
    "coalesce(conclusion, '')), 'C')"
)
# The same statement the case store runs for alerts it stores (casestore/repository.py).
BACKFILL_ENTITIES = (
    "INSERT INTO case_entities (tenant_id, value, entity_type, case_id) "
    "SELECT a.tenant_id, left(lower(e->>'value'), 512), left(e->>'type', 32), a.case_id "
    "FROM alerts a CROSS JOIN LATERAL jsonb_array_elements("
    " CASE WHEN jsonb_typeof(a.detection->'entities') = 'array'"
    " THEN a.detection->'entities' ELSE '[]' END) AS e "
    "WHERE a.case_id IS NOT NULL AND e->>'value' <> '' AND e->>'type' IS NOT NULL "
    "UNION "
    "SELECT a.tenant_id, left(lower(a.host), 512), 'host', a.case_id FROM alerts a "
    "WHERE a.case_id IS NOT NULL AND a.host IS NOT NULL AND a.host <> '' "
    "ON CONFLICT DO NOTHING"
)


def upgrade() -> None:
    op.create_table(
        "case_entities",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=512), nullable=False),
        sa.Column("entity_type", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_entities_case_id_cases")
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id", "value", "entity_type", "case_id", name=op.f("pk_case_entities")
        ),
    )
    op.execute(BACKFILL_ENTITIES)
    op.execute(FOLD_TAGS)
    op.add_column(
        "cases",
        sa.Column(
            "severity_rank",
            sa.SmallInteger(),
            sa.Computed(SEVERITY_RANK, persisted=True),
            nullable=True,
        ),
    )
    op.add_column(
        "cases",
        sa.Column(
            "tags_folded",
            postgresql.ARRAY(sa.Text()),
            sa.Computed("casestream_fold_tags(tags)", persisted=True),
            nullable=True,
        ),
    )
    op.create_index(
        "ix_cases_tags_folded", "cases", ["tags_folded"], unique=False, postgresql_using="gin"
    )
    op.create_index(
        "ix_cases_tenant_ack_due",
        "cases",
        [
            "tenant_id",
            sa.literal_column("COALESCE(ack_due_at, 'infinity'::timestamp with time zone)"),
            "id",
        ],
        unique=False,
    )
    op.create_index(
        "ix_cases_tenant_resolve_due",
        "cases",
        [
            "tenant_id",
            sa.literal_column("COALESCE(resolve_due_at, 'infinity'::timestamp with time zone)"),
            "id",
        ],
        unique=False,
    )
    op.create_index(
        "ix_cases_tenant_assignee_created",
        "cases",
        ["tenant_id", "assignee", "created_at"],
        unique=False,
    )
    op.create_index("ix_cases_tenant_host", "cases", ["tenant_id", "host"], unique=False)
    op.create_index("ix_cases_tenant_rule_id", "cases", ["tenant_id", "rule_id"], unique=False)
    op.create_index(
        "ix_cases_tenant_severity",
        "cases",
        ["tenant_id", "severity_rank", "created_at", "id"],
        unique=False,
    )
    op.create_index(
        "ix_cases_tenant_updated", "cases", ["tenant_id", "updated_at", "id"], unique=False
    )
    op.add_column(
        "cases",
        sa.Column(
            "search_vector",
            postgresql.TSVECTOR(),
            sa.Computed(CASE_SEARCH_VECTOR, persisted=True),
            nullable=True,
        ),
    )
    op.create_index(
        "ix_cases_search_vector", "cases", ["search_vector"], unique=False, postgresql_using="gin"
    )
    op.add_column("cases", sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("cases", sa.Column("deleted_by", sa.String(length=256), nullable=True))
    op.create_index(
        "ix_cases_tenant_status_live",
        "cases",
        ["tenant_id", "status"],
        unique=False,
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.add_column(
        "case_notes",
        sa.Column(
            "search_vector",
            postgresql.TSVECTOR(),
            sa.Computed("to_tsvector('english', body)", persisted=True),
            nullable=True,
        ),
    )
    op.create_index(
        "ix_case_notes_search_vector",
        "case_notes",
        ["search_vector"],
        unique=False,
        postgresql_using="gin",
    )


def downgrade() -> None:
    op.drop_index("ix_case_notes_search_vector", table_name="case_notes", postgresql_using="gin")
    op.drop_column("case_notes", "search_vector")
    op.drop_index("ix_cases_tenant_status_live", table_name="cases")
    op.drop_column("cases", "deleted_by")
    op.drop_column("cases", "deleted_at")
    op.drop_index("ix_cases_search_vector", table_name="cases", postgresql_using="gin")
    op.drop_column("cases", "search_vector")
    op.drop_index("ix_cases_tenant_updated", table_name="cases")
    op.drop_index("ix_cases_tenant_severity", table_name="cases")
    op.drop_index("ix_cases_tenant_rule_id", table_name="cases")
    op.drop_index("ix_cases_tenant_resolve_due", table_name="cases")
    op.drop_index("ix_cases_tenant_host", table_name="cases")
    op.drop_index("ix_cases_tenant_assignee_created", table_name="cases")
    op.drop_index("ix_cases_tenant_ack_due", table_name="cases")
    op.drop_index("ix_cases_tags_folded", table_name="cases", postgresql_using="gin")
    op.drop_column("cases", "tags_folded")
    op.drop_column("cases", "severity_rank")
    op.execute("DROP FUNCTION casestream_fold_tags(text[])")
    op.drop_table("case_entities")
