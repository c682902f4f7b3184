"""Read queries of case tasks. Every statement filters on the tenant."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from libs.common.db.models import CaseTask


async def case_tasks(session: AsyncSession, tenant_id: str, case_id: uuid.UUID) -> list[CaseTask]:
    """The case's tasks in list order."""
    # populate_existing: positions another statement of this session shifted are read anew.
    statement = (
        select(CaseTask)
        .where(CaseTask.tenant_id == tenant_id, CaseTask.case_id == case_id)
        .order_by(col(CaseTask.position), col(CaseTask.created_at), col(CaseTask.id))
        .execution_options(populate_existing=True)
    )
    return list((await session.execute(statement)).scalars())


async def tasks_of_cases(
    session: AsyncSession, tenant_id: str, case_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[CaseTask]]:
    """The tasks of several cases, each case's in list order; one statement."""
    statement = (
        select(CaseTask)
        .where(CaseTask.tenant_id == tenant_id, col(CaseTask.case_id).in_(case_ids))
        .order_by(col(CaseTask.position), col(CaseTask.created_at), col(CaseTask.id))
    )
    found: dict[uuid.UUID, list[CaseTask]] = {case_id: [] for case_id in case_ids}
    for task in (await session.execute(statement)).scalars():
        found[task.case_id].append(task)
    return found


async def task(
    session: AsyncSession, tenant_id: str, case_id: uuid.UUID, task_id: uuid.UUID
) -> CaseTask | None:
    statement = (
        select(CaseTask)
        .where(CaseTask.tenant_id == tenant_id, CaseTask.case_id == case_id, CaseTask.id == task_id)
        .execution_options(populate_existing=True)
    )
    return (await session.execute(statement)).scalar_one_or_none()
