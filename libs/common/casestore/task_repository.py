"""SQL for case tasks in the case store. Every statement filters on the tenant. Callers
hold the row lock of every case whose tasks they touch, which is what serializes task
writers: positions stay dense and counts stay within the limit."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from libs.common.db.models import CaseTask


async def count_tasks(session: AsyncSession, tenant_id: str, case_ids: Sequence[uuid.UUID]) -> int:
    statement = select(func.count()).where(
        col(CaseTask.tenant_id) == tenant_id, col(CaseTask.case_id).in_(list(case_ids))
    )
    return int(await session.scalar(statement) or 0)


async def get_task(
    session: AsyncSession, tenant_id: str, case_id: uuid.UUID, task_id: uuid.UUID
) -> CaseTask | None:
    # populate_existing: a position shifted by an earlier statement of this session must
    # not be read back from the identity map.
    statement = (
        select(CaseTask)
        .where(CaseTask.tenant_id == tenant_id, CaseTask.case_id == case_id, CaseTask.id == task_id)
        .execution_options(populate_existing=True)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def insert_tasks(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> list[CaseTask]:
    """Insert tasks in one executemany; returns them as stored, in the rows' order."""
    if not rows:
        return []
    statement = insert(CaseTask).returning(CaseTask, sort_by_parameter_order=True)
    return list((await session.execute(statement, list(rows))).scalars())


async def update_task(
    session: AsyncSession, tenant_id: str, task_id: uuid.UUID, values: dict[str, Any]
) -> CaseTask:
    statement = (
        update(CaseTask)
        .where(col(CaseTask.tenant_id) == tenant_id, col(CaseTask.id) == task_id)
        .values(**values, updated_at=func.now())
        .returning(CaseTask)
    )
    return (await session.execute(statement)).scalar_one()


async def delete_task(session: AsyncSession, tenant_id: str, task_id: uuid.UUID) -> None:
    await session.execute(
        delete(CaseTask).where(col(CaseTask.tenant_id) == tenant_id, col(CaseTask.id) == task_id)
    )


async def shift_positions(
    session: AsyncSession,
    tenant_id: str,
    case_id: uuid.UUID,
    first: int,
    last: int | None,
    by: int,
) -> None:
    """Move the tasks at positions first..last (to the end when None) by `by` places."""
    await session.execute(
        text(
            "UPDATE case_tasks SET position = position + :by WHERE tenant_id = :tenant "
            "AND case_id = :case AND position >= :first "
            "AND (CAST(:last AS integer) IS NULL OR position <= :last)"
        ),
        {"tenant": tenant_id, "case": case_id, "first": first, "last": last, "by": by},
    )


async def renumber(session: AsyncSession, tenant_id: str, case_id: uuid.UUID) -> None:
    """Positions 0, 1, 2, ... in the case's current task order."""
    await session.execute(
        text(
            "UPDATE case_tasks t SET position = r.n FROM (SELECT id, row_number() OVER "
            "(ORDER BY position, created_at, id) - 1 AS n FROM case_tasks "
            "WHERE tenant_id = :tenant AND case_id = :case) r "
            "WHERE t.id = r.id AND t.tenant_id = :tenant AND t.position <> r.n"
        ),
        {"tenant": tenant_id, "case": case_id},
    )


async def move_tasks_of_cases(
    session: AsyncSession,
    tenant_id: str,
    from_case_ids: Sequence[uuid.UUID],
    to_case_id: uuid.UUID,
    first_position: int,
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """Move every task of `from_case_ids` to the end of `to_case_id`'s list (from
    `first_position`), case by case in the given order, each case's in its own order.
    Returns (task id, the case it left) in their new order."""
    result = await session.execute(
        text(
            "WITH chosen AS (SELECT id, case_id, row_number() OVER (ORDER BY "
            "array_position(CAST(:from AS uuid[]), case_id), position, created_at, id) - 1 "
            "AS n FROM case_tasks WHERE tenant_id = :tenant AND case_id = ANY(:from)) "
            "UPDATE case_tasks t SET case_id = :to, position = :first + chosen.n FROM chosen "
            "WHERE t.id = chosen.id AND t.tenant_id = :tenant "
            "RETURNING t.id, chosen.case_id, chosen.n"
        ),
        {
            "tenant": tenant_id,
            "from": list(from_case_ids),
            "to": to_case_id,
            "first": first_position,
        },
    )
    return [(row[0], row[1]) for row in sorted(result, key=lambda row: int(row[2]))]


async def move_tasks_back(
    session: AsyncSession,
    tenant_id: str,
    task_ids: Sequence[uuid.UUID],
    from_case_id: uuid.UUID,
    to_case_id: uuid.UUID,
) -> list[uuid.UUID]:
    """Move those of `task_ids` still on `from_case_id` to `to_case_id`, ahead of the
    tasks it has (negative positions, in the order of `task_ids`; callers renumber)."""
    result = await session.execute(
        text(
            "UPDATE case_tasks SET case_id = :to, "
            "position = array_position(CAST(:ids AS uuid[]), id) - 1 - :count "
            "WHERE tenant_id = :tenant AND case_id = :from AND id = ANY(:ids) "
            "RETURNING id, position"
        ),
        {
            "tenant": tenant_id,
            "ids": list(task_ids),
            "from": from_case_id,
            "to": to_case_id,
            "count": len(task_ids),
        },
    )
    return [row[0] for row in sorted(result, key=lambda row: int(row[1]))]
