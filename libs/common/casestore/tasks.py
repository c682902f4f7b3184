"""Case tasks in the case store: add, change and remove a case's to-dos, each change one
audit event and one outbox row in the caller's transaction; tasks of a case opened from a
template; and the tasks' part in merges.

Every writer takes the case's row lock first, so a case's tasks have one writer at a
time: positions stay dense (0, 1, 2, ... in list order) and the count within the limit."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.casestore import repository
from libs.common.casestore import task_repository as tasks_sql
from libs.common.casestore.events import event_base, record_events
from libs.common.contracts.cases import (
    CaseEventV1,
    CaseTaskAddedV1,
    CaseTaskRemovedV1,
    CaseTaskStatus,
    CaseTaskUpdatedV1,
    TaskFieldChange,
)
from libs.common.db.models import Case, CaseTask
from libs.common.errors import IllegalTransition, InvalidInput, NotFound, TooManyTasks

MAX_TASKS_PER_CASE = 100
MAX_TASK_TITLE_LENGTH = 256
MAX_TASK_DESCRIPTION_LENGTH = 8_192
MAX_TASK_ASSIGNEE_LENGTH = 256
FINISHED = frozenset({CaseTaskStatus.DONE, CaseTaskStatus.CANCELLED})
# What a change may touch, in the order the event lists them.
EDITABLE = ("title", "description", "status", "assignee", "due_at", "position")
NOT_NULLABLE = ("title", "status", "position")


@dataclass(frozen=True)
class NewTask:
    title: str
    description: str | None = None
    assignee: str | None = None
    due_at: datetime | None = None
    # Due this long after the case was opened (a template's tasks); due_at wins if set.
    due_after: timedelta | None = None
    status: CaseTaskStatus = CaseTaskStatus.TODO
    position: int | None = None  # None: last


def check_task_transition(current: CaseTaskStatus, target: CaseTaskStatus) -> None:
    """Any move but one finished status to the other: done and cancelled are different
    outcomes with their own completed_at, so changing the outcome means reopening first."""
    if current in FINISHED and target in FINISHED and current is not target:
        raise IllegalTransition(
            f"a {current.value} task cannot become {target.value}; reopen it first "
            "(status todo or in_progress)",
            from_status=current.value,
            to_status=target.value,
        )


def stored_task_value(field: str, value: Any) -> Any:
    """A requested value as the task row keeps it. The API checks the same limits first;
    they are checked here too because every writer comes through the store."""
    if value is None:
        if field in NOT_NULLABLE:
            raise InvalidInput(f"a task's {field} cannot be null", field=field)
        return None
    if field == "status":
        try:
            return CaseTaskStatus(value).value
        except ValueError:
            raise InvalidInput("unknown task status", status=str(value)[:32]) from None
    if field == "position":
        if int(value) < 0:
            raise InvalidInput("a task's position is 0 or more", field=field)
        return int(value)
    if field == "due_at":
        if value.tzinfo is None:
            raise InvalidInput("due_at needs a time zone", field=field)
        return value
    limits = {
        "title": MAX_TASK_TITLE_LENGTH,
        "description": MAX_TASK_DESCRIPTION_LENGTH,
        "assignee": MAX_TASK_ASSIGNEE_LENGTH,
    }
    if field in ("title", "assignee") and not value.strip():
        raise InvalidInput(f"a task's {field} cannot be blank", field=field)
    if len(value) > limits[field]:
        raise InvalidInput(
            f"a task's {field} is longer than {limits[field]} characters",
            field=field,
            limit=limits[field],
        )
    return value


class CaseTasks:
    """The task writes of the case store (CaseStore.tasks)."""

    def __init__(self, source: str) -> None:
        self.source = source

    async def add(
        self,
        session: AsyncSession,
        tenant_id: str,
        case_id: uuid.UUID,
        new: NewTask,
        actor: str,
    ) -> CaseTask:
        """Add a task at `new.position` (clamped to the end; last when None)."""
        await _live_case(session, tenant_id, case_id)
        count = await tasks_sql.count_tasks(session, tenant_id, [case_id])
        _check_room(count, 1)
        position = count if new.position is None else min(new.position, count)
        if position < count:
            await tasks_sql.shift_positions(session, tenant_id, case_id, position, None, 1)
        case = await repository.update_case(session, tenant_id, case_id, {})
        (task,) = await tasks_sql.insert_tasks(
            session, [_task_row(case, new, position, actor, datetime.now(UTC))]
        )
        await record_events(session, self.source, [task_added(case, task, actor)])
        return task

    async def update(
        self,
        session: AsyncSession,
        tenant_id: str,
        case_id: uuid.UUID,
        task_id: uuid.UUID,
        requested: Mapping[str, Any],
        actor: str,
    ) -> CaseTask:
        """Change any of the task's fields: one event listing every field that changed
        (none when nothing did). Done/cancelled set completed_at; reopening clears it."""
        await _live_case(session, tenant_id, case_id)
        task = await _task_of(session, tenant_id, case_id, task_id)
        values: dict[str, Any] = {}
        for field in EDITABLE:
            if field in requested:
                new = stored_task_value(field, requested[field])
                if field == "position":  # past the end is the end
                    last = await tasks_sql.count_tasks(session, tenant_id, [case_id]) - 1
                    new = min(new, last)
                if new != getattr(task, field):
                    values[field] = new
        if not values:
            return task
        changes = {f: TaskFieldChange(old=getattr(task, f), new=new) for f, new in values.items()}
        if "status" in values:
            current, target = CaseTaskStatus(task.status), CaseTaskStatus(values["status"])
            check_task_transition(current, target)
            if (target in FINISHED) != (current in FINISHED):
                values["completed_at"] = datetime.now(UTC) if target in FINISHED else None
        if "position" in values:
            await _make_room(session, tenant_id, case_id, task.position, values["position"])
        task = await tasks_sql.update_task(session, tenant_id, task_id, values)
        case = await repository.update_case(session, tenant_id, case_id, {})
        event = CaseTaskUpdatedV1(
            **event_base(case, actor),
            task_id=task.id,
            title=task.title,
            changes=changes,
            status=CaseTaskStatus(task.status),
            completed_at=task.completed_at,
        )
        await record_events(session, self.source, [event])
        return task

    async def remove(
        self,
        session: AsyncSession,
        tenant_id: str,
        case_id: uuid.UUID,
        task_id: uuid.UUID,
        actor: str,
    ) -> None:
        await _live_case(session, tenant_id, case_id)
        task = await _task_of(session, tenant_id, case_id, task_id)
        await tasks_sql.delete_task(session, tenant_id, task_id)
        await tasks_sql.shift_positions(session, tenant_id, case_id, task.position + 1, None, -1)
        case = await repository.update_case(session, tenant_id, case_id, {})
        event = CaseTaskRemovedV1(
            **event_base(case, actor),
            task_id=task.id,
            title=task.title,
            status=CaseTaskStatus(task.status),
            position=task.position,
        )
        await record_events(session, self.source, [event])


def task_added(case: Case, task: CaseTask, actor: str, template: str | None = None) -> CaseEventV1:
    return CaseTaskAddedV1(
        **event_base(case, actor),
        task_id=task.id,
        title=task.title,
        description=task.description,
        status=CaseTaskStatus(task.status),
        assignee=task.assignee,
        due_at=task.due_at,
        position=task.position,
        completed_at=task.completed_at,
        template=template,
    )


async def add_opening_tasks(
    session: AsyncSession,
    case: Case,
    new_tasks: Sequence[NewTask],
    actor: str,
    template: str | None,
) -> list[CaseEventV1]:
    """The tasks a case is opened with (from its template), in the opening's transaction;
    returns their case.task_added events, to be recorded after its case.opened."""
    if not new_tasks:
        return []
    _check_room(0, len(new_tasks))
    now = datetime.now(UTC)
    rows = [_task_row(case, new, n, actor, now) for n, new in enumerate(new_tasks)]
    stored = await tasks_sql.insert_tasks(session, rows)
    return [task_added(case, task, actor, template) for task in stored]


async def check_merge_fits(
    session: AsyncSession, tenant_id: str, target_id: uuid.UUID, source_ids: Sequence[uuid.UUID]
) -> None:
    """A merge must leave the target within the task limit (callers hold the locks)."""
    on_target = await tasks_sql.count_tasks(session, tenant_id, [target_id])
    arriving = await tasks_sql.count_tasks(session, tenant_id, source_ids)
    if arriving:
        _check_room(on_target, arriving, case_id=str(target_id))


async def move_tasks_for_merge(
    session: AsyncSession, tenant_id: str, source_ids: Sequence[uuid.UUID], target_id: uuid.UUID
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """The sources' tasks after the target's own; (task id, the case it left), in order."""
    first = await tasks_sql.count_tasks(session, tenant_id, [target_id])
    return await tasks_sql.move_tasks_of_cases(session, tenant_id, source_ids, target_id, first)


async def restore_tasks(
    session: AsyncSession,
    tenant_id: str,
    task_ids: Sequence[uuid.UUID],
    target_id: uuid.UUID,
    case_id: uuid.UUID,
) -> list[uuid.UUID]:
    """Give an unmerged case back the tasks it gave the target (those not deleted since),
    first and in their old order, before any added to it while merged. Not held to the
    limit: an undo puts back what was there."""
    if not task_ids:
        return []
    moved = await tasks_sql.move_tasks_back(session, tenant_id, task_ids, target_id, case_id)
    await tasks_sql.renumber(session, tenant_id, case_id)
    await tasks_sql.renumber(session, tenant_id, target_id)
    return moved


def _check_room(count: int, adding: int, **details: Any) -> None:
    if count + adding > MAX_TASKS_PER_CASE:
        raise TooManyTasks(
            f"at most {MAX_TASKS_PER_CASE} tasks per case",
            limit=MAX_TASKS_PER_CASE,
            tasks=count,
            adding=adding,
            **details,
        )


async def _make_room(
    session: AsyncSession, tenant_id: str, case_id: uuid.UUID, old: int, new: int
) -> None:
    """Shift the tasks between a moving task's old and new place by one towards its old."""
    if new < old:
        await tasks_sql.shift_positions(session, tenant_id, case_id, new, old - 1, 1)
    else:
        await tasks_sql.shift_positions(session, tenant_id, case_id, old + 1, new, -1)


async def _live_case(session: AsyncSession, tenant_id: str, case_id: uuid.UUID) -> Case:
    """The case under its row lock; a deleted one is not found (as for notes). A merged
    case keeps taking tasks, as it keeps taking notes."""
    case = await repository.lock_case(session, tenant_id, case_id)
    if case is None or case.deleted_at is not None:
        raise NotFound("case not found", case_id=str(case_id))
    return case


async def _task_of(
    session: AsyncSession, tenant_id: str, case_id: uuid.UUID, task_id: uuid.UUID
) -> CaseTask:
    task = await tasks_sql.get_task(session, tenant_id, case_id, task_id)
    if task is None:
        raise NotFound("task not found", case_id=str(case_id), task_id=str(task_id))
    return task


def _task_row(case: Case, new: NewTask, position: int, actor: str, now: datetime) -> dict[str, Any]:
    due_at = new.due_at
    if due_at is None and new.due_after is not None:
        due_at = case.created_at + new.due_after
    status = CaseTaskStatus(stored_task_value("status", new.status))
    return {
        "id": uuid.uuid4(),
        "tenant_id": case.tenant_id,
        "case_id": case.id,
        "title": stored_task_value("title", new.title),
        "description": stored_task_value("description", new.description),
        "status": status.value,
        "assignee": stored_task_value("assignee", new.assignee),
        "due_at": stored_task_value("due_at", due_at),
        "position": position,
        "created_by": actor,
        "completed_at": now if status in FINISHED else None,
    }
