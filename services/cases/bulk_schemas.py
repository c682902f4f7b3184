"""API shapes of bulk case changes: which cases (ids or a filter), what change, and the
job that applies it with its per-case results."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from libs.common.casestore.changes import CaseChange
from libs.common.contracts.cases import CaseClassification, CaseStatus
from libs.common.contracts.detections import Severity

MAX_BULK_CASES = 200


class BulkFilter(BaseModel):
    """Cases matching every criterion given; tags: the case has each tag (any case)."""

    model_config = ConfigDict(extra="forbid")

    status: list[CaseStatus] = Field(default_factory=list, max_length=20)
    severity: list[Severity] = Field(default_factory=list, max_length=10)
    classification: list[CaseClassification] = Field(default_factory=list, max_length=10)
    assignee: str | None = Field(
        default=None, min_length=1, max_length=256, description="null: unassigned cases"
    )
    tags: list[str] = Field(default_factory=list, max_length=50)

    @model_validator(mode="after")
    def _narrows(self) -> BulkFilter:
        if not self.model_fields_set:
            raise ValueError("a filter needs at least one criterion")
        return self

    @property
    def by_assignee(self) -> bool:
        return "assignee" in self.model_fields_set


class BulkChange(BaseModel):
    """What to change on each case; `assignee: null` unassigns."""

    model_config = ConfigDict(extra="forbid")

    status: CaseStatus | None = None
    reason: str | None = Field(default=None, max_length=4_096)
    severity: Severity | None = None
    assignee: str | None = Field(default=None, min_length=1, max_length=256)
    classification: CaseClassification | None = None
    tags_add: list[str] = Field(default_factory=list, max_length=50)
    tags_remove: list[str] = Field(default_factory=list, max_length=50)

    @model_validator(mode="after")
    def _meaningful(self) -> BulkChange:
        if not self.model_fields_set - {"reason"}:
            raise ValueError("nothing to change: send a status, a field or tags")
        for name in ("status", "severity", "classification"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"cannot be null: {name}")
        return self

    def to_case_change(self) -> CaseChange:
        names: tuple[str, ...] = ("severity", "assignee", "classification")
        fields = {name: getattr(self, name) for name in names if name in self.model_fields_set}
        return CaseChange(
            fields=fields,
            tags_add=tuple(self.tags_add),
            tags_remove=tuple(self.tags_remove),
            status=self.status,
            reason=self.reason,
        )


class BulkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[uuid.UUID] | None = Field(default=None, min_length=1)
    filter: BulkFilter | None = None
    change: BulkChange
    dry_run: bool = Field(default=False, description="work out each case's result, write nothing")

    @field_validator("ids")
    @classmethod
    def _within_limit(cls, ids: list[uuid.UUID] | None) -> list[uuid.UUID] | None:
        if ids is not None and len(ids) > MAX_BULK_CASES:
            raise ValueError(f"at most {MAX_BULK_CASES} cases per bulk change, {len(ids)} given")
        if ids is not None and len(set(ids)) != len(ids):
            raise ValueError("a case is named more than once")
        return ids

    @model_validator(mode="after")
    def _one_selection(self) -> BulkIn:
        if (self.ids is None) == (self.filter is None):
            raise ValueError("send either ids or a filter")
        return self


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"


class Outcome(StrEnum):
    PENDING = "pending"
    CHANGED = "changed"  # with dry_run: would change
    UNCHANGED = "unchanged"
    FAILED = "failed"


class BulkItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    position: int
    case_id: uuid.UUID
    outcome: Outcome
    changed: list[str] | None = Field(description="what changed (or would, in a dry run)")
    error: dict[str, Any] | None = Field(description="code, status and message of a failure")


class BulkProgress(BaseModel):
    total: int
    done: int
    changed: int
    unchanged: int
    failed: int


class BulkJobOut(BaseModel):
    id: uuid.UUID
    status: JobStatus
    dry_run: bool
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    request: dict[str, Any]
    progress: BulkProgress
    items: list[BulkItemOut]
