"""Queries of retention: which tenants have a policy, which of their cases are due, the
tombstones purges left, and the purged attachments' objects still to delete. Only
`tenants_with_retention` and `tenants_with_purged_objects` read across tenants (the
purger is a system clock, not a caller); every other statement filters on the tenant."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Integer, cast, delete, func, text, update
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from libs.common.db.models import CasePurge, PurgedAttachmentObject, TenantCasePolicy


@dataclass(frozen=True)
class TenantRetention:
    tenant_id: str
    days: int
    policy_version: int


async def tenants_with_retention(session: AsyncSession) -> list[TenantRetention]:
    """Tenants whose case policy in force (its newest version) sets retention_days."""
    policy = TenantCasePolicy
    latest = (
        select(col(policy.tenant_id), col(policy.version), col(policy.document))
        .ext(distinct_on(col(policy.tenant_id)))
        .order_by(col(policy.tenant_id), col(policy.version).desc())
        .subquery("latest_policies")
    )
    days = cast(latest.c.document["retention_days"].astext, Integer)
    statement = (
        select(latest.c.tenant_id, days, latest.c.version)
        .where(days.is_not(None))
        .order_by(latest.c.tenant_id)
    )
    rows = await session.execute(statement)
    return [TenantRetention(row[0], int(row[1]), int(row[2])) for row in rows]


# Closed, or deleted, at or before the cutoff and not on legal hold, oldest first; each
# branch is a range scan of its partial index (ix_cases_tenant_*_retention). A case both
# closed and deleted may come twice; the caller tries each case once.
DUE_CASES = text(
    "SELECT id, due_at FROM ("
    " (SELECT id, closed_at AS due_at FROM cases WHERE tenant_id = :tenant"
    "  AND status = 'closed' AND closed_at <= :cutoff AND legal_hold_since IS NULL"
    "  AND (closed_at, id) > (:after_at, :after_id) ORDER BY closed_at, id LIMIT :limit)"
    " UNION ALL"
    " (SELECT id, deleted_at AS due_at FROM cases WHERE tenant_id = :tenant"
    "  AND deleted_at <= :cutoff AND legal_hold_since IS NULL"
    "  AND (deleted_at, id) > (:after_at, :after_id) ORDER BY deleted_at, id LIMIT :limit)"
    ") AS due ORDER BY due_at, id LIMIT :limit"
)
# Before every real (time, id) pair: the first page's position.
START = (datetime.fromisoformat("0001-01-01T00:00:00+00:00"), uuid.UUID(int=0))


async def due_cases(
    session: AsyncSession,
    tenant_id: str,
    cutoff: datetime,
    after: tuple[datetime, uuid.UUID],
    limit: int,
) -> list[tuple[datetime, uuid.UUID]]:
    """(due time, case) of the tenant's cases due for purging, after `after`."""
    rows = await session.execute(
        DUE_CASES,
        {
            "tenant": tenant_id,
            "cutoff": cutoff,
            "after_at": after[0],
            "after_id": after[1],
            "limit": limit,
        },
    )
    return [(row.due_at, row.id) for row in rows]


async def purges(
    session: AsyncSession,
    tenant_id: str,
    *,
    before: datetime | None,
    number: int | None,
    limit: int,
) -> list[CasePurge]:
    statement = select(CasePurge).where(CasePurge.tenant_id == tenant_id)
    if before is not None:
        statement = statement.where(col(CasePurge.purged_at) < before)
    if number is not None:
        statement = statement.where(CasePurge.case_number == number)
    statement = statement.order_by(col(CasePurge.purged_at).desc(), col(CasePurge.id).desc())
    return list((await session.execute(statement.limit(limit))).scalars())


async def tenants_with_purged_objects(session: AsyncSession) -> list[str]:
    """Tenants with objects of purged attachments still in the bucket (whether or not
    their policy still sets retention)."""
    statement = (
        select(PurgedAttachmentObject.tenant_id)
        .distinct()
        .order_by(col(PurgedAttachmentObject.tenant_id))
    )
    return list((await session.execute(statement)).scalars())


async def purged_objects(session: AsyncSession, tenant_id: str, limit: int) -> list[str]:
    """Keys of the tenant's objects to delete next: fewest failed attempts first, so one
    object the store keeps refusing cannot hold up the others."""
    statement = (
        select(PurgedAttachmentObject.object_key)
        .where(PurgedAttachmentObject.tenant_id == tenant_id)
        .order_by(
            col(PurgedAttachmentObject.attempts),
            col(PurgedAttachmentObject.recorded_at),
            col(PurgedAttachmentObject.object_key),
        )
        .limit(limit)
    )
    return list((await session.execute(statement)).scalars())


async def forget_purged_objects(session: AsyncSession, tenant_id: str, keys: list[str]) -> None:
    """The objects are gone from the bucket."""
    if keys:
        await session.execute(
            delete(PurgedAttachmentObject).where(
                col(PurgedAttachmentObject.tenant_id) == tenant_id,
                col(PurgedAttachmentObject.object_key).in_(keys),
            )
        )


async def purged_object_failed(session: AsyncSession, tenant_id: str, key: str) -> int:
    """Count a failed delete of the object; returns its failed attempts so far."""
    statement = (
        update(PurgedAttachmentObject)
        .where(
            col(PurgedAttachmentObject.tenant_id) == tenant_id,
            col(PurgedAttachmentObject.object_key) == key,
        )
        .values(attempts=col(PurgedAttachmentObject.attempts) + 1, last_attempt_at=func.now())
        .returning(col(PurgedAttachmentObject.attempts))
    )
    return int((await session.execute(statement)).scalar_one_or_none() or 0)
