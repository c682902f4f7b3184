"""Alerts keep their detection as `text`: stored as written, not even checked.

`json` (0026) still lexes every document on insert to check it. Measured on its own
(12,160 real detections, 5.6 KB on average, in arrays of 250 into a table with the
alerts' two unique indexes, lz4, a checkpoint before each round, four rounds): 51-59 µs
of server CPU per row as `json`, 33-38 as `text`. The alert insert is most of
PostgreSQL's work while alerting drains a backlog (docs/benchmarks.md, session 12).

Every document comes from alerting, which stores a detection's validated wire bytes or
its pydantic serialization, so the check could not fail. Nothing queries inside it but
the fallback of the case entity index, which now casts it to json; readers get it parsed
(db.columns.JSONText). The downgrade checks every stored document again as it converts.

The ALTER TABLE rewrites the table and locks it while it runs: stop alerting first.

Revision ID: 0030
Revises: 0029
Create Date: 2026-11-23 09:30:00.000000
"""

from collections.abc import Sequence

from alembic import op

from libs.common.migrations.compression import alter_with_compression

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _detection_as(kind: str) -> str:
    # lz4 as since 0024, where the server has it (the embedded one keeps pglz).
    return alter_with_compression(
        "alerts",
        f"ALTER COLUMN detection TYPE {kind} USING detection::{kind}",
        "detection",
        "lz4",
    )


def upgrade() -> None:
    op.execute(_detection_as("text"))


def downgrade() -> None:
    op.execute(_detection_as("json"))
