"""alert search by entity and host: a GIN index over each alert's entity keys

The alert store's Postgres implementation answers time-range queries from
ix_alerts_tenant_effective_time, but nothing indexed an alert's entities (they live in
the detection payload) or its host: a search for one user over a month would read and
detoast every payload of the tenant in that month. This index holds, per alert, its
"tenant/type=value" keys (values lower-cased and cut to 512 like case_entities); the
tenant prefix keeps a value common to many tenants selective. Built CONCURRENTLY so
alerting keeps writing while it builds on a large table.

Revision ID: 0019
Revises: 0022
Create Date: 2026-11-22 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Immutable, so an index may call it. The same keys as libs/common/alertstore/model.py
# entity_keys() computes for the OpenSearch documents.
ENTITY_KEYS = """
CREATE FUNCTION casestream_alert_entity_keys(tenant text, detection jsonb, host text)
RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT coalesce(array_agg(DISTINCT k), '{}') FROM (
  SELECT tenant || '/' || left(e->>'type', 32) || '=' || left(lower(e->>'value'), 512) AS k
  FROM jsonb_array_elements(CASE WHEN jsonb_typeof(detection->'entities') = 'array'
    THEN detection->'entities' ELSE '[]' END) AS e
  WHERE jsonb_typeof(e) = 'object' AND e->>'value' <> '' AND e->>'type' IS NOT NULL
  UNION ALL
  SELECT tenant || '/host=' || left(lower(host), 512) WHERE host <> ''
) AS keys
$$
"""


def upgrade() -> None:
    op.execute(ENTITY_KEYS)
    with op.get_context().autocommit_block():
        op.create_index(
            "ix_alerts_entity_keys",
            "alerts",
            [sa.text("casestream_alert_entity_keys(tenant_id, detection, host)")],
            unique=False,
            postgresql_using="gin",
            postgresql_concurrently=True,
        )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index(
            "ix_alerts_entity_keys",
            table_name="alerts",
            postgresql_using="gin",
            postgresql_concurrently=True,
        )
    op.execute("DROP FUNCTION casestream_alert_entity_keys(text, jsonb, text)")
