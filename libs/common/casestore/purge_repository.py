"""SQL of the retention purge. Every statement filters on the tenant.

`CASE_TABLES` names every table whose rows belong to a case through a foreign key to
`cases`, with the column(s) that point there, in the order they are deleted (before the
audit events and the cases themselves). tests/cases/test_retention_schema.py fails when a
table gains such a key without being listed here."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import TextClause, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from libs.common.db.models import Case, CasePurge

CASE_TABLES: dict[str, tuple[str, ...]] = {
    "case_entities": ("case_id",),
    "grouping_slots": ("case_id",),
    "alerts": ("case_id",),
    "case_notes": ("case_id",),
    "case_tasks": ("case_id",),
    # Their objects are recorded first (record_attachment_objects), for the purger to
    # delete from the bucket after the commit.
    "case_attachments": ("case_id",),
    "case_merges": ("source_case_id", "target_case_id"),
}
# Deleted separately: the audit trail (under its trigger's purge licence) and the rows
# themselves, whose merged_into points within the purged family.
AUDIT_TABLE, CASES_TABLE = "case_events", "cases"
# Sent outbox rows of the purged case's events (counted under this name).
OUTBOX_TABLE = "outbox"


def _per_case(delete: str) -> TextClause:
    """`delete` is one of the constant statements below, never input."""
    counted = f"WITH d AS ({delete}) SELECT case_id, count(*) FROM d GROUP BY case_id"  # noqa: S608
    return text(counted)


# One statement per table, in CASE_TABLES' order, then the outbox; each counts the rows
# it removed per case (a merge row counts against its source when both sides go).
DELETES: dict[str, TextClause] = {
    "case_entities": _per_case(
        "DELETE FROM case_entities WHERE tenant_id = :tenant AND case_id = ANY(:ids)"
        " RETURNING case_id"
    ),
    "grouping_slots": _per_case(
        "DELETE FROM grouping_slots WHERE tenant_id = :tenant AND case_id = ANY(:ids)"
        " RETURNING case_id"
    ),
    "alerts": _per_case(
        "DELETE FROM alerts WHERE tenant_id = :tenant AND case_id = ANY(:ids) RETURNING case_id"
    ),
    "case_notes": _per_case(
        "DELETE FROM case_notes WHERE tenant_id = :tenant AND case_id = ANY(:ids) RETURNING case_id"
    ),
    "case_tasks": _per_case(
        "DELETE FROM case_tasks WHERE tenant_id = :tenant AND case_id = ANY(:ids) RETURNING case_id"
    ),
    "case_attachments": _per_case(
        "DELETE FROM case_attachments WHERE tenant_id = :tenant AND case_id = ANY(:ids)"
        " RETURNING case_id"
    ),
    "case_merges": _per_case(
        "DELETE FROM case_merges WHERE tenant_id = :tenant"
        " AND (source_case_id = ANY(:ids) OR target_case_id = ANY(:ids)) RETURNING"
        " CASE WHEN source_case_id = ANY(:ids) THEN source_case_id ELSE target_case_id END"
        " AS case_id"
    ),
    OUTBOX_TABLE: _per_case(
        "DELETE FROM outbox o USING case_events e WHERE e.tenant_id = :tenant"
        " AND e.case_id = ANY(:ids) AND o.event_id = e.event_id AND o.tenant_id = :tenant"
        " AND o.sent_at IS NOT NULL RETURNING e.case_id"
    ),
}
UNINDEX_MATCHED_EVENTS = text(
    "DELETE FROM alert_matched_events m USING alerts a WHERE a.tenant_id = :tenant"
    " AND a.case_id = ANY(:ids) AND m.tenant_id = :tenant AND m.alert_id = a.id"
)
# Deep merge chains are walked this far at most (merges cannot form a cycle anyway).
MAX_MERGE_DEPTH = 64

FAMILY = text(
    "WITH RECURSIVE family(id, depth) AS ("
    " SELECT id, 0 FROM cases WHERE tenant_id = :tenant AND id = :root"
    " UNION ALL"
    " SELECT c.id, f.depth + 1 FROM cases c JOIN family f ON c.merged_into = f.id"
    " WHERE c.tenant_id = :tenant AND f.depth < :depth"
    ") SELECT id FROM family"
)


async def limit_lock_waits(session: AsyncSession, milliseconds: int) -> None:
    """For this transaction only: a statement that waits longer than this for a row lock
    (an alerting batch updating one of the case's alerts, say) fails instead of queueing;
    the purger then retries the case on its next round."""
    await session.execute(
        text("SELECT set_config('lock_timeout', :ms, true)"), {"ms": f"{milliseconds}ms"}
    )


async def merge_family(session: AsyncSession, tenant_id: str, root: uuid.UUID) -> set[uuid.UUID]:
    """The case and every case merged into it, directly or through merged cases."""
    rows = await session.execute(
        FAMILY, {"tenant": tenant_id, "root": root, "depth": MAX_MERGE_DEPTH}
    )
    return set(rows.scalars())


async def slot_keys(
    session: AsyncSession, tenant_id: str, case_ids: Sequence[uuid.UUID]
) -> set[str]:
    rows = await session.execute(
        text(
            "SELECT group_key FROM grouping_slots WHERE tenant_id = :tenant AND case_id = ANY(:ids)"
        ),
        {"tenant": tenant_id, "ids": list(case_ids)},
    )
    return set(rows.scalars())


async def lock_cases_or_skip(
    session: AsyncSession, tenant_id: str, case_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Case]:
    """The cases this transaction could lock now; a case another transaction holds (or
    that is gone) is missing from the answer, never waited for."""
    statement = (
        select(Case)
        .where(Case.tenant_id == tenant_id, col(Case.id).in_(sorted(case_ids)))
        .order_by(col(Case.id))
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )
    return {case.id: case for case in (await session.execute(statement)).scalars()}


async def unpublished_events(
    session: AsyncSession, tenant_id: str, case_ids: Sequence[uuid.UUID]
) -> int:
    """Events of these cases still waiting in the outbox for the relay."""
    count = await session.scalar(
        text(
            "SELECT count(*) FROM case_events e JOIN outbox o ON o.event_id = e.event_id"
            " WHERE e.tenant_id = :tenant AND e.case_id = ANY(:ids) AND o.sent_at IS NULL"
        ),
        {"tenant": tenant_id, "ids": list(case_ids)},
    )
    return int(count or 0)


async def record_attachment_objects(
    session: AsyncSession, tenant_id: str, case_ids: Sequence[uuid.UUID]
) -> int:
    """Note the objects of the cases' attachments (removed ones too: their objects stayed
    for the audit trail, which goes now) in purged_attachment_objects, in the purge's
    transaction, before the rows go; returns how many."""
    result = await session.execute(
        text(
            "INSERT INTO purged_attachment_objects (object_key, tenant_id, case_id)"
            " SELECT object_key, tenant_id, case_id FROM case_attachments"
            " WHERE tenant_id = :tenant AND case_id = ANY(:ids)"
        ),
        {"tenant": tenant_id, "ids": list(case_ids)},
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def delete_dependents(
    session: AsyncSession, tenant_id: str, case_ids: Sequence[uuid.UUID]
) -> dict[str, dict[uuid.UUID, int]]:
    """Delete the cases' rows in CASE_TABLES and their events' sent outbox rows; returns
    rows removed per table and case."""
    parameters = {"tenant": tenant_id, "ids": list(case_ids)}
    # Chain grouping's index points at the alerts, not the cases: it goes before them.
    await session.execute(UNINDEX_MATCHED_EVENTS, parameters)
    removed: dict[str, dict[uuid.UUID, int]] = {}
    for table, statement in DELETES.items():
        rows = await session.execute(statement, parameters)
        removed[table] = {row[0]: int(row[1]) for row in rows}
    return removed


async def count_events(
    session: AsyncSession, tenant_id: str, case_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """Audit events per case. Stable under the cases' row locks: every writer appends
    only while holding the case's lock."""
    rows = await session.execute(
        text(
            "SELECT case_id, count(*) FROM case_events WHERE tenant_id = :tenant"
            " AND case_id = ANY(:ids) GROUP BY case_id"
        ),
        {"tenant": tenant_id, "ids": list(case_ids)},
    )
    return {row[0]: int(row[1]) for row in rows}


async def insert_tombstones(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    await session.execute(insert(CasePurge), list(rows))


async def delete_case_events(session: AsyncSession, tenant_id: str, case_id: uuid.UUID) -> int:
    """Delete one purged case's audit events: the append-only trigger lets these rows
    through only while the transaction names the case and its tombstone exists."""
    await session.execute(
        text("SELECT set_config('casestream.purge_case_id', :case_id, true)"),
        {"case_id": str(case_id)},
    )
    result = await session.execute(
        text("DELETE FROM case_events WHERE tenant_id = :tenant AND case_id = :case_id"),
        {"tenant": tenant_id, "case_id": case_id},
    )
    # Named for this one case only: nothing later in the transaction inherits the licence.
    await session.execute(text("SELECT set_config('casestream.purge_case_id', '', true)"))
    return int(result.rowcount)  # type: ignore[attr-defined]


async def delete_cases(session: AsyncSession, tenant_id: str, case_ids: Sequence[uuid.UUID]) -> int:
    result = await session.execute(
        text("DELETE FROM cases WHERE tenant_id = :tenant AND id = ANY(:ids)"),
        {"tenant": tenant_id, "ids": list(case_ids)},
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
