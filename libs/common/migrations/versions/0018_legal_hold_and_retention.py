"""Legal hold and retention: hold columns on cases, the case_purges tombstones, indexes
the retention purger reads by, and one narrow exception to the audit trail's append-only
rule.

The append-only trigger on case_events (0001) now lets a DELETE through only when all of
these hold for the row: the transaction named its case in the transaction-local setting
`casestream.purge_case_id` (set_config(..., true)), a case_purges tombstone for that
case exists (written earlier in the same transaction), and the case is not on legal
hold. UPDATE and TRUNCATE stay refused for everyone. A second trigger refuses deleting a
case row while it is on legal hold, whoever tries.

continues_case_id loses its foreign key: a continuation case outlives the full case it
continued when retention purges that one, and keeps its id as history.

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-22 10:42:25.548060
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY_EXCEPT_PURGE = """
CREATE OR REPLACE FUNCTION case_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Nested: OLD is only a row in the row-level DELETE trigger, not for TRUNCATE.
    IF TG_OP = 'DELETE' THEN
        IF OLD.case_id::text = current_setting('casestream.purge_case_id', true)
            AND EXISTS (SELECT 1 FROM case_purges p
                        WHERE p.tenant_id = OLD.tenant_id AND p.case_id = OLD.case_id)
            AND NOT EXISTS (SELECT 1 FROM cases c
                            WHERE c.id = OLD.case_id AND c.legal_hold_since IS NOT NULL)
        THEN
            RETURN OLD;
        END IF;
    END IF;
    RAISE EXCEPTION 'case_events is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$
"""

APPEND_ONLY = """
CREATE OR REPLACE FUNCTION case_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'case_events is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$
"""

LEGAL_HOLD_GUARD = """
CREATE FUNCTION cases_legal_hold_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'case % is on legal hold (DELETE refused)', OLD.id
        USING ERRCODE = 'insufficient_privilege';
END;
$$
"""


def upgrade() -> None:
    op.create_table(
        "case_purges",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("case_number", sa.Integer(), nullable=False),
        sa.Column("basis", sa.String(length=16), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("purged_with", sa.Uuid(), nullable=True),
        sa.Column("retention_days", sa.Integer(), nullable=False),
        sa.Column("policy_version", sa.Integer(), nullable=False),
        sa.Column("purged_by", sa.String(length=256), nullable=False),
        sa.Column(
            "purged_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("removed", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_purges")),
        sa.UniqueConstraint("tenant_id", "case_id", name=op.f("uq_case_purges_tenant_id_case_id")),
    )
    op.create_index("ix_case_purges_tenant_purged", "case_purges", ["tenant_id", "purged_at", "id"])
    op.create_index("ix_case_entities_tenant_case", "case_entities", ["tenant_id", "case_id"])
    op.add_column("cases", sa.Column("legal_hold_since", sa.DateTime(timezone=True)))
    op.add_column("cases", sa.Column("legal_hold_by", sa.String(length=256)))
    op.add_column("cases", sa.Column("legal_hold_reason", sa.String(length=4096)))
    op.create_index(
        "ix_cases_tenant_closed_retention",
        "cases",
        ["tenant_id", "closed_at", "id"],
        postgresql_where=sa.text("status = 'closed'"),
    )
    op.create_index(
        "ix_cases_tenant_deleted_retention",
        "cases",
        ["tenant_id", "deleted_at", "id"],
        postgresql_where=sa.text("deleted_at IS NOT NULL"),
    )
    op.create_index(
        "ix_cases_tenant_merged_into",
        "cases",
        ["tenant_id", "merged_into"],
        postgresql_where=sa.text("merged_into IS NOT NULL"),
    )
    op.drop_constraint(op.f("fk_cases_continues_case_id_cases"), "cases", type_="foreignkey")
    op.create_index("ix_grouping_slots_tenant_case", "grouping_slots", ["tenant_id", "case_id"])
    op.execute(APPEND_ONLY_EXCEPT_PURGE)
    op.execute(LEGAL_HOLD_GUARD)
    op.execute(
        "CREATE TRIGGER cases_legal_hold_guard BEFORE DELETE ON cases FOR EACH ROW "
        "WHEN (OLD.legal_hold_since IS NOT NULL) EXECUTE FUNCTION cases_legal_hold_guard()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER cases_legal_hold_guard ON cases")
    op.execute("DROP FUNCTION cases_legal_hold_guard()")
    op.execute(APPEND_ONLY)
    op.drop_index("ix_grouping_slots_tenant_case", table_name="grouping_slots")
    # Continuations of purged cases name a case that no longer exists: the old foreign
    # key cannot come back over them.
    op.execute(
        "UPDATE cases c SET continues_case_id = NULL WHERE continues_case_id IS NOT NULL "
        "AND NOT EXISTS (SELECT 1 FROM cases f WHERE f.id = c.continues_case_id)"
    )
    op.create_foreign_key(
        op.f("fk_cases_continues_case_id_cases"),
        "cases",
        "cases",
        ["continues_case_id"],
        ["id"],
    )
    op.drop_index("ix_cases_tenant_merged_into", table_name="cases")
    op.drop_index("ix_cases_tenant_deleted_retention", table_name="cases")
    op.drop_index("ix_cases_tenant_closed_retention", table_name="cases")
    op.drop_column("cases", "legal_hold_reason")
    op.drop_column("cases", "legal_hold_by")
    op.drop_column("cases", "legal_hold_since")
    op.drop_index("ix_case_entities_tenant_case", table_name="case_entities")
    op.drop_index("ix_case_purges_tenant_purged", table_name="case_purges")
    op.drop_table("case_purges")
