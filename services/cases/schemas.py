"""API shapes of the cases service."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, computed_field, model_validator

from libs.common.casestore.custom_fields import MAX_DEFINITIONS
from libs.common.casestore.fields import (
    MAX_ESCALATION_GROUP_LENGTH,
    MAX_NARRATIVE_LENGTH,
    MAX_PRIORITY,
    MIN_PRIORITY,
)
from libs.common.casestore.policy import CasePolicy
from libs.common.contracts.cases import CaseClassification, CaseStatus
from libs.common.contracts.detections import Severity
from services.cases.attachments_schemas import ExportedAttachment
from services.cases.tasks_schemas import TaskCounts, TaskOut

MAX_TITLE_LENGTH = 1_024


class CaseSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    number: int
    title: str
    status: CaseStatus
    workflow: str
    severity: Severity
    alert_count: int
    assignee: str | None
    tags: list[str]
    host: str | None
    rule_id: str | None
    first_event_at: datetime | None
    last_event_at: datetime | None
    created_at: datetime
    updated_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    in_progress_at: datetime | None
    priority: int | None
    confidence: float | None
    classification: CaseClassification
    escalation_group: str | None
    requires_human_approval: bool
    ack_due_at: datetime | None = Field(description="null for cases opened before SLAs")
    resolve_due_at: datetime | None
    merged_into: uuid.UUID | None = Field(
        default=None, description="the case this one is merged into (status merged)"
    )
    custom_fields: dict[str, Any] = Field(
        default_factory=dict, description="the tenant's custom fields set on the case"
    )
    legal_hold_since: datetime | None = Field(
        default=None, description="when the legal hold began; null when not on hold"
    )
    legal_hold_reason: str | None = None
    legal_hold_by: str | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def legal_hold(self) -> bool:
        """On legal hold: it cannot be deleted, and retention does not purge it."""
        return self.legal_hold_since is not None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ack_breached(self) -> bool:
        """Acknowledged after its due time, or not yet and the due time has passed."""
        return _late(self.ack_due_at, self.acknowledged_at)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def resolve_breached(self) -> bool:
        return _late(self.resolve_due_at, self.resolved_at)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def sla_breached(self) -> bool:
        return self.ack_breached or self.resolve_breached


def _late(due: datetime | None, done: datetime | None) -> bool:
    return due is not None and due < (done or datetime.now(UTC))


class AlertSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    detection_id: str
    title: str
    severity: Severity
    rule_id: str
    rule_name: str
    host: str | None
    source: str
    event_time: datetime | None
    effective_time: datetime
    time_fallback: bool
    # How often this detection was submitted: first seen is when it was ingested first.
    occurrence_count: int
    first_seen: datetime = Field(validation_alias="ingested_at")
    last_seen: datetime


class TimelineEntry(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    event_id: uuid.UUID
    type: str
    actor: str
    occurred_at: datetime
    payload: dict[str, Any]


class NoteOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    author: str
    body: str
    created_at: datetime


class CaseDetail(CaseSummary):
    description: str | None
    investigation_summary: str | None
    conclusion: str | None
    alerts: list[AlertSummary]
    alerts_truncated: bool
    notes: list[NoteOut]
    tasks: list[TaskOut] = Field(description="in list order")
    task_counts: TaskCounts
    timeline: list[TimelineEntry]


class CaseRef(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    number: int
    title: str
    status: CaseStatus
    alert_count: int


class AlertWhy(BaseModel):
    """Why an alert is in its case (or in none): the policy, key, window and decision at
    grouping time."""

    alert: AlertSummary
    case: CaseRef | None = Field(
        description="null when the policy did not let the alert open a case and none was "
        "open to join (grouping.decision is then no_case, with the reason)"
    )
    grouping: dict[str, Any] | None = Field(
        description="policy and version, key values, window, decision and reason; "
        "null for alerts stored before provenance was recorded"
    )


class AuditVerdict(BaseModel):
    case_id: uuid.UUID
    events: int
    valid: bool
    broken_at_seq: int | None = None
    problem: str | None = None


class ExportedAlert(AlertSummary):
    detection: dict[str, Any] = Field(description="the normalized detection as received")
    grouping: dict[str, Any] | None
    stored_at: datetime


class AuditEvent(TimelineEntry):
    """A timeline entry with its place in the hash chain, for verifying offline."""

    seq: int
    prev_hash: str | None
    hash: str


class ExportMetadata(BaseModel):
    format: str = "casestream.case-export.v1"
    exported_at: datetime
    exported_by: str
    tenant_id: str
    attachments: str = Field(
        default="listed under `attachments` (removed ones left out); their contents are in "
        "the zip form of this export (?format=zip), at each one's archive_name",
    )


class CaseExport(BaseModel):
    """One case with everything attached to it, as one JSON document."""

    metadata: ExportMetadata
    case: CaseSummary
    description: str | None
    investigation_summary: str | None
    conclusion: str | None
    alerts: list[ExportedAlert]
    notes: list[NoteOut]
    tasks: list[TaskOut]
    task_counts: TaskCounts
    attachments: list[ExportedAttachment]
    timeline: list[AuditEvent]
    audit_verification: AuditVerdict


class CasePage(BaseModel):
    items: list[CaseSummary]
    next_cursor: str | None
    counts: dict[CaseStatus, int] = Field(
        description="cases per status matching the same filters, over all pages "
        "(statuses without cases are left out)"
    )
    total: int = Field(description="the sum of counts: every case matching the filters")
    counts_exact: bool = Field(
        default=True,
        description="false when a filter beyond status, severity and classification "
        "matched more cases than the count limit: counts and total then cover the first "
        "matches found and are lower bounds",
    )


class CaseIn(BaseModel):
    """A case opened by hand (alerts may join it later)."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=MAX_TITLE_LENGTH)
    description: str | None = Field(default=None, max_length=65_536)
    severity: Severity = Severity.MEDIUM
    assignee: str | None = Field(default=None, min_length=1, max_length=256)
    tags: list[str] = Field(default_factory=list, max_length=200)
    custom_fields: dict[str, Any] = Field(
        default_factory=dict,
        max_length=MAX_DEFINITIONS,
        description="values of the tenant's custom fields (GET /api/v1/admin/custom-fields); "
        "every required one must be set",
    )
    template: str | None = Field(
        default=None,
        max_length=64,
        description="a case template's name: its title prefix, tags and custom field values "
        "apply, and the values given here win; the case opens with its tasks",
    )


NOT_NULLABLE = (
    "title",
    "severity",
    "tags",
    "status",
    "classification",
    "requires_human_approval",
    "custom_fields",
)


class CasePatch(BaseModel):
    """Any of: a status move (through the lifecycle) and editable fields. Each field that
    changes is audited with its old and new value; `assignee: null` unassigns."""

    model_config = ConfigDict(extra="forbid")

    status: CaseStatus | None = None
    reason: str | None = Field(default=None, max_length=4_096)
    title: str | None = Field(default=None, min_length=1, max_length=1_024)
    description: str | None = Field(default=None, max_length=65_536)
    severity: Severity | None = None
    assignee: str | None = Field(default=None, min_length=1, max_length=256)
    tags: list[str] | None = Field(default=None, max_length=200)
    priority: int | None = Field(
        default=None, ge=MIN_PRIORITY, le=MAX_PRIORITY, description="1 most urgent, 4 least"
    )
    confidence: float | None = Field(default=None, ge=0.0, le=1.0, allow_inf_nan=False)
    classification: CaseClassification | None = None
    escalation_group: str | None = Field(
        default=None, min_length=1, max_length=MAX_ESCALATION_GROUP_LENGTH
    )
    investigation_summary: str | None = Field(default=None, max_length=MAX_NARRATIVE_LENGTH)
    conclusion: str | None = Field(default=None, max_length=MAX_NARRATIVE_LENGTH)
    requires_human_approval: bool | None = None
    custom_fields: dict[str, Any] | None = Field(
        default=None,
        max_length=MAX_DEFINITIONS,
        description="only the keys to change; a null value removes the key's value",
    )

    @model_validator(mode="after")
    def _meaningful(self) -> CasePatch:
        if not self.model_fields_set - {"reason"}:
            raise ValueError("nothing to change: send a status or a field")
        cleared = [
            f for f in NOT_NULLABLE if f in self.model_fields_set and getattr(self, f) is None
        ]
        if cleared:
            raise ValueError(f"cannot be null: {', '.join(cleared)}")
        return self

    def field_changes(self) -> dict[str, object]:
        return {f: getattr(self, f) for f in self.model_fields_set - {"status", "reason"}}


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str = Field(min_length=1, max_length=65_536)


class CasePolicyIn(CasePolicy):
    """The whole policy; fields left out take their defaults."""

    version: int = Field(ge=0, description="the version this change is based on (from GET)")


class WorkflowOut(BaseModel):
    initial: CaseStatus
    open_statuses: list[CaseStatus]
    transitions: dict[CaseStatus, list[CaseStatus]]
    requires: dict[CaseStatus, list[str]]


class CasePolicyOut(CasePolicy):
    version: int = Field(description="0: the defaults, never changed by this tenant")
    workflow_definition: WorkflowOut
