"""Rules of case tasks for the API. Reads go through the repository; every write goes
through the case store (CaseStore.tasks) in the request's transaction (never commits)."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.casestore.store import CaseStore, NewTask
from libs.common.errors import NotFound
from libs.common.http import Principal
from services.cases import repository, tasks_repository
from services.cases.tasks_schemas import TaskIn, TaskOut, TaskPatch


class CaseTaskService:
    def __init__(self, store: CaseStore) -> None:
        self._store = store

    async def add_task(
        self, session: AsyncSession, caller: Principal, case_id: uuid.UUID, body: TaskIn
    ) -> TaskOut:
        new = NewTask(
            title=body.title,
            description=body.description,
            assignee=body.assignee,
            due_at=body.due_at,
            status=body.status,
            position=body.position,
        )
        task = await self._store.tasks.add(session, caller.tenant_id, case_id, new, caller.name)
        return TaskOut.model_validate(task)

    async def list_tasks(
        self, session: AsyncSession, caller: Principal, case_id: uuid.UUID
    ) -> list[TaskOut]:
        await self._case_must_exist(session, caller, case_id)
        tasks = await tasks_repository.case_tasks(session, caller.tenant_id, case_id)
        return [TaskOut.model_validate(t) for t in tasks]

    async def get_task(
        self, session: AsyncSession, caller: Principal, case_id: uuid.UUID, task_id: uuid.UUID
    ) -> TaskOut:
        await self._case_must_exist(session, caller, case_id)
        task = await tasks_repository.task(session, caller.tenant_id, case_id, task_id)
        if task is None:
            raise NotFound("task not found", case_id=str(case_id), task_id=str(task_id))
        return TaskOut.model_validate(task)

    async def update_task(
        self,
        session: AsyncSession,
        caller: Principal,
        case_id: uuid.UUID,
        task_id: uuid.UUID,
        patch: TaskPatch,
    ) -> TaskOut:
        task = await self._store.tasks.update(
            session, caller.tenant_id, case_id, task_id, patch.changes(), caller.name
        )
        return TaskOut.model_validate(task)

    async def remove_task(
        self, session: AsyncSession, caller: Principal, case_id: uuid.UUID, task_id: uuid.UUID
    ) -> None:
        await self._store.tasks.remove(session, caller.tenant_id, case_id, task_id, caller.name)

    async def _case_must_exist(
        self, session: AsyncSession, caller: Principal, case_id: uuid.UUID
    ) -> None:
        """Another tenant's case, or a deleted one, is not found, like every case read."""
        if await repository.get_case(session, caller.tenant_id, case_id) is None:
            raise NotFound("case not found", case_id=str(case_id))
