"""HTTP transport for case tasks: authorize, open the request's transaction, call one
service function, return. Any analyst of the case's tenant may read and change them."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from libs.common.http import app_state
from services.cases.api import Caller, Session
from services.cases.tasks_schemas import TaskIn, TaskOut, TaskPatch
from services.cases.tasks_service import CaseTaskService

router = APIRouter(prefix="/api/v1/cases/{case_id}/tasks", tags=["tasks"])


Tasks = Annotated[CaseTaskService, Depends(app_state("task_service"))]


@router.post(
    "",
    response_model=TaskOut,
    status_code=status.HTTP_201_CREATED,
    summary="Add a task to the case (audited as case.task_added)",
)
async def add_task(
    case_id: uuid.UUID, body: TaskIn, caller: Caller, session: Session, service: Tasks
) -> TaskOut:
    return await service.add_task(session, caller, case_id, body)


@router.get("", response_model=list[TaskOut], summary="The case's tasks, in list order")
async def list_tasks(
    case_id: uuid.UUID, caller: Caller, session: Session, service: Tasks
) -> list[TaskOut]:
    return await service.list_tasks(session, caller, case_id)


@router.get("/{task_id}", response_model=TaskOut, summary="One task of the case")
async def get_task(
    case_id: uuid.UUID, task_id: uuid.UUID, caller: Caller, session: Session, service: Tasks
) -> TaskOut:
    return await service.get_task(session, caller, case_id, task_id)


@router.patch(
    "/{task_id}",
    response_model=TaskOut,
    summary="Change any of a task's fields (one case.task_updated with old and new values)",
)
async def update_task(
    case_id: uuid.UUID,
    task_id: uuid.UUID,
    patch: TaskPatch,
    caller: Caller,
    session: Session,
    service: Tasks,
) -> TaskOut:
    return await service.update_task(session, caller, case_id, task_id, patch)


@router.delete(
    "/{task_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Delete a task (audited as case.task_removed)",
)
async def remove_task(
    case_id: uuid.UUID, task_id: uuid.UUID, caller: Caller, session: Session, service: Tasks
) -> Response:
    await service.remove_task(session, caller, case_id, task_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
