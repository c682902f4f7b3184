"""Live-case counts per (tenant, status, severity, classification) from the signed rows
the case triggers append (migration 0021, libs/common/db/models/counts.py).

`compact` folds each group's rows into one so a tenant's sum stays a read of a few
hundred rows however many cases changed; `RECOUNT` rebuilds them from the cases, for
loaders that write cases with triggers off."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

COMPACTION_LOCK_KEY = 0x636F756E7473  # "counts"

# Only groups with more than one row (or one zero row) are rewritten, so compacting an
# already compact table writes nothing. Rows appended while this runs are not in its
# snapshot and stay as they are; the sum over a group is the same before and after.
COMPACT = text(
    """
    WITH scattered AS (
        SELECT tenant_id, status, severity, classification FROM case_count_deltas
        GROUP BY 1, 2, 3, 4
        HAVING count(*) > 1 OR sum(n) = 0
    ),
    gone AS (
        DELETE FROM case_count_deltas d USING scattered s
        WHERE (d.tenant_id, d.status, d.severity, d.classification)
            = (s.tenant_id, s.status, s.severity, s.classification)
        RETURNING d.tenant_id, d.status, d.severity, d.classification, d.n
    ),
    folded AS (
        INSERT INTO case_count_deltas (tenant_id, status, severity, classification, n)
        SELECT tenant_id, status, severity, classification, sum(n) FROM gone
        GROUP BY 1, 2, 3, 4 HAVING sum(n) <> 0
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM gone) AS removed
    """
)

# Every tenant's counts from the cases themselves (no parameters: asyncpg runs both).
RECOUNT = (
    "DELETE FROM case_count_deltas; "
    "INSERT INTO case_count_deltas (tenant_id, status, severity, classification, n) "
    "SELECT tenant_id, status, severity, classification, count(*) FROM cases "
    "WHERE deleted_at IS NULL GROUP BY 1, 2, 3, 4"
)


async def compact(session: AsyncSession) -> int:
    """Fold scattered count rows; returns how many rows were folded (0: another
    instance is compacting, or nothing to do)."""
    leader = await session.scalar(
        text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": COMPACTION_LOCK_KEY}
    )
    if not leader:
        return 0
    return int(await session.scalar(COMPACT) or 0)
