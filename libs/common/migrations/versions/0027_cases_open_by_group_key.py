"""An index of the open cases of each group key.

A group key's slot remembers only its latest case. A detection that arrives late, in a
later batch than the detections it belongs with, must find the earlier open case whose
window holds its event time, or where batches were cut decides the cases (issue 4: a
backfill groups exactly as it would have live). Alerting now reads a batch's keys' open
cases near its event times; this partial index keeps that read to the few live cases of
each key, whatever number of closed ones a key gathered over the years.

Revision ID: 0027
Revises: 0026
Create Date: 2026-11-22 23:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_cases_tenant_group_key_open",
        "cases",
        ["tenant_id", "group_key", "last_event_at"],
        postgresql_where=sa.text(
            "group_key IS NOT NULL AND deleted_at IS NULL"
            " AND status NOT IN ('resolved', 'closed', 'merged')"
        ),
    )


def downgrade() -> None:
    op.drop_index("ix_cases_tenant_group_key_open", table_name="cases")
