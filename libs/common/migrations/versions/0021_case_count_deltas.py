"""Counts of live cases per (tenant, status, severity, classification), kept by triggers.

Statement-level triggers with transition tables append one signed row per group whose
live-case count a statement changed (an update that moves no case between groups, such as
an alert joining, appends nothing). The case list sums them instead of counting up to a
million index entries on every page. Existing cases are counted once here.

Revision ID: 0021
Revises: 0018
Create Date: 2026-11-22 11:20:43.759418
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


COUNT_FUNCTION = """
CREATE FUNCTION casestream_count_cases() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO case_count_deltas (tenant_id, status, severity, classification, n)
        SELECT tenant_id, status, severity, classification, count(*)
        FROM new_cases WHERE deleted_at IS NULL
        GROUP BY 1, 2, 3, 4;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO case_count_deltas (tenant_id, status, severity, classification, n)
        SELECT tenant_id, status, severity, classification, -count(*)
        FROM old_cases WHERE deleted_at IS NULL
        GROUP BY 1, 2, 3, 4;
    ELSE
        INSERT INTO case_count_deltas (tenant_id, status, severity, classification, n)
        SELECT tenant_id, status, severity, classification, sum(d) FROM (
            SELECT tenant_id, status, severity, classification, -1 AS d
            FROM old_cases WHERE deleted_at IS NULL
            UNION ALL
            SELECT tenant_id, status, severity, classification, 1 AS d
            FROM new_cases WHERE deleted_at IS NULL
        ) moved
        GROUP BY 1, 2, 3, 4 HAVING sum(d) <> 0;
    END IF;
    RETURN NULL;
END
$$
"""

TRIGGERS = {
    "cases_count_insert": "AFTER INSERT ON cases REFERENCING NEW TABLE AS new_cases",
    "cases_count_update": (
        "AFTER UPDATE ON cases REFERENCING OLD TABLE AS old_cases NEW TABLE AS new_cases"
    ),
    "cases_count_delete": "AFTER DELETE ON cases REFERENCING OLD TABLE AS old_cases",
}


def upgrade() -> None:
    op.create_table(
        "case_count_deltas",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("classification", sa.String(length=32), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_count_deltas")),
    )
    op.create_index(
        "ix_case_count_deltas_group",
        "case_count_deltas",
        ["tenant_id", "status", "severity", "classification"],
        unique=False,
    )
    op.execute(COUNT_FUNCTION)
    for name, when in TRIGGERS.items():
        op.execute(
            f"CREATE TRIGGER {name} {when} FOR EACH STATEMENT "
            "EXECUTE FUNCTION casestream_count_cases()"
        )
    op.execute(
        "INSERT INTO case_count_deltas (tenant_id, status, severity, classification, n) "
        "SELECT tenant_id, status, severity, classification, count(*) FROM cases "
        "WHERE deleted_at IS NULL GROUP BY 1, 2, 3, 4"
    )


def downgrade() -> None:
    for name in TRIGGERS:
        op.execute(f"DROP TRIGGER {name} ON cases")
    op.execute("DROP FUNCTION casestream_count_cases()")
    op.drop_index("ix_case_count_deltas_group", table_name="case_count_deltas")
    op.drop_table("case_count_deltas")
