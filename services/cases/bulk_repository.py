"""SQL of bulk case jobs. Every statement filters on the tenant, except the runner's look
for unfinished jobs after a restart (a system task, like the SLA scanner)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, literal, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from libs.common.db.models import Case, CaseBulkJob, CaseBulkJobItem
from services.cases.bulk_schemas import BulkFilter, JobStatus, Outcome


@dataclass(frozen=True)
class ItemKey:
    """Which item, read before its case is changed (a rolled-back savepoint expires what
    the session loaded, and an expired row cannot be read again without I/O)."""

    tenant_id: str
    job_id: uuid.UUID
    position: int
    case_id: uuid.UUID


async def matching_case_ids(
    session: AsyncSession, tenant_id: str, chosen: BulkFilter, limit: int
) -> list[uuid.UUID]:
    statement = select(col(Case.id)).where(Case.tenant_id == tenant_id)
    if chosen.status:
        statement = statement.where(col(Case.status).in_([s.value for s in chosen.status]))
    if chosen.severity:
        statement = statement.where(col(Case.severity).in_([s.value for s in chosen.severity]))
    if chosen.classification:
        values = [c.value for c in chosen.classification]
        statement = statement.where(col(Case.classification).in_(values))
    if chosen.by_assignee:
        statement = statement.where(
            col(Case.assignee).is_(None)
            if chosen.assignee is None
            else col(Case.assignee) == chosen.assignee
        )
    for tag in chosen.tags:
        each = func.unnest(col(Case.tags)).column_valued("tag")
        statement = statement.where(
            select(literal(1)).where(func.lower(each) == func.lower(tag.strip())).exists()
        )
    statement = statement.order_by(col(Case.created_at), col(Case.id)).limit(limit)
    return list((await session.execute(statement)).scalars())


async def insert_job(
    session: AsyncSession, job: dict[str, Any], case_ids: Sequence[uuid.UUID]
) -> CaseBulkJob:
    created = (
        await session.execute(insert(CaseBulkJob).values(**job).returning(CaseBulkJob))
    ).scalar_one()
    if case_ids:
        rows = [
            {
                "job_id": created.id,
                "position": n,
                "tenant_id": created.tenant_id,
                "case_id": case_id,
                "outcome": Outcome.PENDING.value,
            }
            for n, case_id in enumerate(case_ids)
        ]
        await session.execute(insert(CaseBulkJobItem), rows)
    return created


async def get_job(session: AsyncSession, tenant_id: str, job_id: uuid.UUID) -> CaseBulkJob | None:
    statement = select(CaseBulkJob).where(
        CaseBulkJob.tenant_id == tenant_id, CaseBulkJob.id == job_id
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def job_items(
    session: AsyncSession, tenant_id: str, job_id: uuid.UUID
) -> list[CaseBulkJobItem]:
    statement = (
        select(CaseBulkJobItem)
        .where(CaseBulkJobItem.tenant_id == tenant_id, CaseBulkJobItem.job_id == job_id)
        .order_by(col(CaseBulkJobItem.position))
    )
    return list((await session.execute(statement)).scalars())


async def start_job(session: AsyncSession, job_id: uuid.UUID) -> CaseBulkJob | None:
    """Mark the job running (once) and return it; None when it is finished already."""
    statement = (
        update(CaseBulkJob)
        .where(col(CaseBulkJob.id) == job_id, col(CaseBulkJob.finished_at).is_(None))
        .values(
            status=JobStatus.RUNNING.value,
            started_at=func.coalesce(col(CaseBulkJob.started_at), func.now()),
        )
        .returning(CaseBulkJob)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def claim_item(session: AsyncSession, job: CaseBulkJob) -> ItemKey | None:
    """The job's next pending item, locked; another runner skips it (SKIP LOCKED)."""
    statement = (
        select(CaseBulkJobItem)
        .where(
            CaseBulkJobItem.tenant_id == job.tenant_id,
            CaseBulkJobItem.job_id == job.id,
            CaseBulkJobItem.outcome == Outcome.PENDING.value,
        )
        .order_by(col(CaseBulkJobItem.position))
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    item = (await session.execute(statement)).scalar_one_or_none()
    if item is None:
        return None
    return ItemKey(item.tenant_id, item.job_id, item.position, item.case_id)


async def finish_item(
    session: AsyncSession,
    item: ItemKey,
    outcome: Outcome,
    changed: list[str] | None,
    error: dict[str, Any] | None,
) -> None:
    statement = (
        update(CaseBulkJobItem)
        .where(
            col(CaseBulkJobItem.tenant_id) == item.tenant_id,
            col(CaseBulkJobItem.job_id) == item.job_id,
            col(CaseBulkJobItem.position) == item.position,
        )
        .values(outcome=outcome.value, changed=changed, error=error, finished_at=func.now())
    )
    await session.execute(statement)


async def finish_job(session: AsyncSession, job: CaseBulkJob) -> bool:
    """Mark the job done if no item is pending; False while some still are."""
    result = await session.execute(
        text(
            "UPDATE case_bulk_jobs SET status = :done, finished_at = now() "
            "WHERE tenant_id = :tenant AND id = :id AND finished_at IS NULL AND NOT EXISTS "
            "(SELECT 1 FROM case_bulk_job_items WHERE job_id = :id AND outcome = :pending) "
            "RETURNING id"
        ),
        {
            "tenant": job.tenant_id,
            "id": job.id,
            "done": JobStatus.DONE.value,
            "pending": Outcome.PENDING.value,
        },
    )
    return result.scalar_one_or_none() is not None


async def unfinished_job_ids(session: AsyncSession) -> list[uuid.UUID]:
    statement = (
        select(col(CaseBulkJob.id))
        .where(col(CaseBulkJob.finished_at).is_(None))
        .order_by(col(CaseBulkJob.created_at))
    )
    return list((await session.execute(statement)).scalars())
