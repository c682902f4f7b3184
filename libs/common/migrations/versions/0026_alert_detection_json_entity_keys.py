"""Alerts keep their detection as `json` and their entity keys in a column of their own.

The alert insert was half of PostgreSQL's CPU while alerting stored a backlog, and most
of it went to the 5.6 KB detection: parsed into jsonb, then walked again by
casestream_alert_entity_keys() for the GIN index of migration 0019. Alerting already
knows each alert's entities, so it now writes the keys itself (`entity_keys`, the same
"<tenant>/<type>=<folded value>" strings the function makes) and the GIN index covers
that column; the detection is stored as written (`json`: checked, not converted). 12,000
real detections in batches of 1,000, measured in isolation: 138-182 µs of server CPU per
alert before, 133-137 with the key column alone, 75-97 with both.

Nothing queries inside the detection but the fallback of the case entity index (which
now uses the json functions) and reads of the whole document. One ALTER TABLE rewrites
the table once: the keys of existing alerts are computed from their jsonb detection in
the same pass, with the function 0019 made, which stays as the reference the tests hold
the Python twin to. The rewrite locks the table: stop alerting while it runs (110,000
alerts of the cases benchmark's loader, with small detections, took 2.3 s).

json keeps what jsonb refused: a NUL (JSON's \\u0000) inside the raw payload. Ingest
refuses such detections, but another producer of detections.v1 may not, and alerting now
stores them; the downgrade stops at the first one (jsonb cannot hold it) until it is
removed.

Revision ID: 0026
Revises: 0025
Create Date: 2026-11-22 20:30:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEYS_OF_STORED = "casestream_alert_entity_keys(tenant_id, detection, host)"


def _with_lz4(alter: str) -> str:
    """The rewrite with the detection compressed by lz4 (0024), or without where the
    server cannot (the embedded one keeps pglz)."""
    return f"""
DO $$
BEGIN
    {alter}, ALTER COLUMN detection SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    {alter};
END
$$"""


def upgrade() -> None:
    op.execute("DROP INDEX ix_alerts_entity_keys")
    op.execute("ALTER TABLE alerts ADD COLUMN entity_keys text[]")
    op.execute(
        _with_lz4(
            "ALTER TABLE alerts"
            f" ALTER COLUMN entity_keys TYPE text[] USING {KEYS_OF_STORED},"
            " ALTER COLUMN entity_keys SET NOT NULL,"
            " ALTER COLUMN detection TYPE json USING detection::json"
        )
    )
    op.execute("CREATE INDEX ix_alerts_entity_keys ON alerts USING gin (entity_keys)")


def downgrade() -> None:
    op.execute("DROP INDEX ix_alerts_entity_keys")
    op.execute(
        _with_lz4("ALTER TABLE alerts ALTER COLUMN detection TYPE jsonb USING detection::jsonb")
    )
    op.execute("ALTER TABLE alerts DROP COLUMN entity_keys")
    op.execute(f"CREATE INDEX ix_alerts_entity_keys ON alerts USING gin ({KEYS_OF_STORED})")
