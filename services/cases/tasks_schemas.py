"""API shapes of case tasks."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from libs.common.casestore.tasks import (
    FINISHED,
    MAX_TASK_ASSIGNEE_LENGTH,
    MAX_TASK_DESCRIPTION_LENGTH,
    MAX_TASK_TITLE_LENGTH,
    NOT_NULLABLE,
)
from libs.common.contracts.cases import CaseTaskStatus
from libs.common.db.models import CaseTask

# Positions past the end mean last; the bound only keeps the number a database integer.
MAX_POSITION = 10_000
Title = Field(min_length=1, max_length=MAX_TASK_TITLE_LENGTH)
Description = Field(
    default=None, max_length=MAX_TASK_DESCRIPTION_LENGTH, description="Markdown, kept as written"
)
Assignee = Field(default=None, min_length=1, max_length=MAX_TASK_ASSIGNEE_LENGTH)


class TaskOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    case_id: uuid.UUID
    title: str
    description: str | None
    status: CaseTaskStatus
    assignee: str | None
    due_at: datetime | None
    position: int = Field(description="the task's place in the case's list, from 0")
    created_by: str
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None = Field(description="when it became done or cancelled")


class TaskCounts(BaseModel):
    open: int = Field(description="todo and in_progress")
    done: int
    cancelled: int
    total: int

    @classmethod
    def of(cls, tasks: Sequence[CaseTask]) -> TaskCounts:
        done = sum(1 for t in tasks if t.status == CaseTaskStatus.DONE)
        cancelled = sum(1 for t in tasks if t.status == CaseTaskStatus.CANCELLED)
        finished = sum(1 for t in tasks if t.status in FINISHED)
        return cls(open=len(tasks) - finished, done=done, cancelled=cancelled, total=len(tasks))


class TaskIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Title
    description: str | None = Description
    status: CaseTaskStatus = CaseTaskStatus.TODO
    assignee: str | None = Assignee
    due_at: AwareDatetime | None = None
    position: int | None = Field(
        default=None,
        ge=0,
        le=MAX_POSITION,
        description="where in the list (from 0); last when left out or past the end",
    )


class TaskPatch(BaseModel):
    """Any of the task's fields; `assignee`, `due_at` or `description` null clears it.
    Each field that changes is in the one audit event of the change, old and new."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, min_length=1, max_length=MAX_TASK_TITLE_LENGTH)
    description: str | None = Description
    status: CaseTaskStatus | None = Field(
        default=None,
        description="done/cancelled set completed_at, todo/in_progress clear it; a finished "
        "task is reopened before it can take the other finished status",
    )
    assignee: str | None = Assignee
    due_at: AwareDatetime | None = None
    position: int | None = Field(default=None, ge=0, le=MAX_POSITION)

    @model_validator(mode="after")
    def _meaningful(self) -> TaskPatch:
        if not self.model_fields_set:
            raise ValueError("nothing to change: send a field")
        cleared = [
            f for f in NOT_NULLABLE if f in self.model_fields_set and getattr(self, f) is None
        ]
        if cleared:
            raise ValueError(f"cannot be null: {', '.join(cleared)}")
        return self

    def changes(self) -> dict[str, object]:
        return {f: getattr(self, f) for f in self.model_fields_set}
