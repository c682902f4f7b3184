"""`cases.events.v1`: every case change, as the audit timeline stores it.

The same model is the audit row's payload and the outbox message, so what analysts see
in the timeline and what automation receives on the bus cannot drift apart."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, Field, JsonValue, TypeAdapter

from libs.common.contracts.detections import Severity
from libs.common.contracts.envelope import TenantId


class CaseStatus(StrEnum):
    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"
    # Added with the per-tenant workflows (triage and incident_response); see
    # libs/common/casestore/lifecycle.py for which workflow uses which status.
    ESCALATED = "escalated"
    MERGED = "merged"
    OPEN = "open"
    INVESTIGATING = "investigating"
    PENDING_APPROVAL = "pending_approval"
    CONTAINED = "contained"
    ERADICATED = "eradicated"
    RECOVERED = "recovered"


class CaseClassification(StrEnum):
    PENDING = "pending"
    TRUE_POSITIVE = "true_positive"
    FALSE_POSITIVE = "false_positive"
    BENIGN = "benign"


class CaseTaskStatus(StrEnum):
    """A case task's status; done and cancelled are finished (the task has completed_at)."""

    TODO = "todo"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    CANCELLED = "cancelled"


class CaseEventBase(BaseModel):
    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    tenant_id: TenantId
    case_id: uuid.UUID
    case_number: int = Field(ge=1)
    actor: str = Field(min_length=1, max_length=256)
    occurred_at: datetime

    @property
    def cloudevent_type(self) -> str:
        event_type: str = getattr(self, "type")  # noqa: B009 - every subclass defines it
        return f"casestream.{event_type}.v1"


class CaseOpenedV1(CaseEventBase):
    type: Literal["case.opened"] = "case.opened"
    title: str
    severity: Severity
    status: CaseStatus
    group_key: str | None = None
    alert_ids: list[uuid.UUID] = Field(default_factory=list)
    assignee: str | None = None
    tags: list[str] = Field(default_factory=list)
    # The full case this one continues (its group key reached the policy's alert cap).
    continues_case_id: uuid.UUID | None = None
    workflow: str | None = None
    ack_due_at: datetime | None = None
    resolve_due_at: datetime | None = None
    # The case whose alerts were split off into this one (POST /cases/{id}/split).
    split_from: uuid.UUID | None = None
    # The tenant's custom fields set when the case was opened (key -> value).
    custom_fields: dict[str, JsonValue] = Field(default_factory=dict)
    # The case template it was opened with (its title prefix, tags and values applied;
    # its tasks follow as case.task_added events naming the template).
    template: str | None = None


class CaseAlertAttachedV1(CaseEventBase):
    type: Literal["case.alert_attached"] = "case.alert_attached"
    alert_ids: list[uuid.UUID] = Field(min_length=1)
    alert_count: int = Field(ge=1)


class CaseSeverityUpgradedV1(CaseEventBase):
    type: Literal["case.severity_upgraded"] = "case.severity_upgraded"
    from_severity: Severity
    to_severity: Severity
    ack_due_at: datetime | None = None
    resolve_due_at: datetime | None = None


class CaseStatusChangedV1(CaseEventBase):
    type: Literal["case.status_changed"] = "case.status_changed"
    from_status: CaseStatus
    to_status: CaseStatus
    reason: str | None = Field(default=None, max_length=4_096)


class CaseReopenedV1(CaseEventBase):
    """A resolved or closed case went back to work (its resolved/closed times cleared)."""

    type: Literal["case.reopened"] = "case.reopened"
    from_status: CaseStatus
    to_status: CaseStatus
    reason: str | None = Field(default=None, max_length=4_096)


class CaseSlaEventV1(CaseEventBase):
    """A case neared (`sla.pre_breach`) or passed (`sla.breached`) an SLA due time.
    Recorded once per case, per target and per kind by the cases service's scanner."""

    type: Literal["sla.pre_breach", "sla.breached"]
    target: Literal["ack", "resolve"]
    due_at: datetime
    severity: Severity
    status: CaseStatus


# bool before int: pydantic's smart union keeps True a bool, 3 an int and 0.5 a float.
FieldValue = str | list[str] | bool | int | float | None


class CaseFieldChangedV1(CaseEventBase):
    """One field of a case changed by someone, with its old and new value."""

    type: Literal[
        "case.summary_updated",
        "case.description_updated",
        "case.severity_changed",
        "case.assigned",
        "case.tags_updated",
        "case.priority_changed",
        "case.confidence_changed",
        "case.classified",
        "case.escalation_group_changed",
        "case.investigation_summary_updated",
        "case.conclusion_updated",
        "case.approval_requirement_changed",
    ]
    field: str
    old: FieldValue
    new: FieldValue
    # Set on severity changes: the SLA due times recomputed for the new severity.
    ack_due_at: datetime | None = None
    resolve_due_at: datetime | None = None


class CaseCustomFieldChangedV1(CaseEventBase):
    """One custom field of a case set, changed or removed (null), with its old and new
    value. Its own event rather than case.field_changed's types: a custom value may be
    any JSON, which consumers of CaseFieldChangedV1's `old`/`new` do not expect."""

    type: Literal["case.custom_field_changed"] = "case.custom_field_changed"
    field: str = Field(description="custom_fields.<key>")
    key: str
    old: JsonValue = None
    new: JsonValue = None


class CaseNoteAddedV1(CaseEventBase):
    type: Literal["case.note_added"] = "case.note_added"
    note_id: uuid.UUID
    author: str


class CaseAttachmentAddedV1(CaseEventBase):
    """A file was attached. Its sha256 is in the hash chain, so the audit trail proves
    which bytes were attached (the chain of custody of the evidence)."""

    type: Literal["case.attachment_added"] = "case.attachment_added"
    attachment_id: uuid.UUID
    filename: str = Field(max_length=255)
    content_type: str = Field(max_length=255)
    size_bytes: int = Field(ge=0)
    sha256: str = Field(min_length=64, max_length=64)


class CaseAttachmentRemovedV1(CaseEventBase):
    """An attachment was removed (soft: its record and content stay for the audit)."""

    type: Literal["case.attachment_removed"] = "case.attachment_removed"
    attachment_id: uuid.UUID
    filename: str = Field(max_length=255)
    sha256: str = Field(min_length=64, max_length=64)
    reason: str | None = Field(default=None, max_length=4_096)


class CaseDeletedV1(CaseEventBase):
    """The tenant's admin deleted the case (soft: it can be restored). Consumers should
    treat it as gone: the API no longer shows it and no alert joins it."""

    type: Literal["case.deleted"] = "case.deleted"
    status: CaseStatus
    reason: str | None = Field(default=None, max_length=4_096)


class CaseRestoredV1(CaseEventBase):
    """A deleted case is back, in the status it was deleted in."""

    type: Literal["case.restored"] = "case.restored"
    status: CaseStatus
    reason: str | None = Field(default=None, max_length=4_096)


class CaseMergedIntoV1(CaseEventBase):
    """This case (a source) was merged into `target_case_id`: its alerts, notes, tasks and
    attachments (those not removed) moved there and its status became `merged`. Undone by
    `case.unmerged`."""

    type: Literal["case.merged_into"] = "case.merged_into"
    merge_id: uuid.UUID
    target_case_id: uuid.UUID
    target_case_number: int = Field(ge=1)
    from_status: CaseStatus
    alert_ids: list[uuid.UUID] = Field(default_factory=list)
    note_ids: list[uuid.UUID] = Field(default_factory=list)
    group_keys: list[str] = Field(default_factory=list)
    task_ids: list[uuid.UUID] = Field(default_factory=list)
    attachment_ids: list[uuid.UUID] = Field(default_factory=list)


class CaseMergedFromV1(CaseEventBase):
    """Other cases were merged into this one (the target): it took their alerts, notes,
    tasks (after its own, in the order of `source_case_ids`) and attachments."""

    type: Literal["case.merged_from"] = "case.merged_from"
    source_case_ids: list[uuid.UUID] = Field(min_length=1)
    merge_ids: list[uuid.UUID] = Field(min_length=1)
    alert_ids: list[uuid.UUID] = Field(default_factory=list)
    note_ids: list[uuid.UUID] = Field(default_factory=list)
    task_ids: list[uuid.UUID] = Field(default_factory=list)
    attachment_ids: list[uuid.UUID] = Field(default_factory=list)
    alert_count: int = Field(ge=0)
    from_severity: Severity
    to_severity: Severity
    ack_due_at: datetime | None = None
    resolve_due_at: datetime | None = None


class CaseUnmergedV1(CaseEventBase):
    """A merge of this case was undone: its alerts, notes, tasks and attachments (those not
    deleted or removed meanwhile) came back from the case it was merged into, and it is
    back in the status it had before."""

    type: Literal["case.unmerged"] = "case.unmerged"
    merge_id: uuid.UUID
    from_case_id: uuid.UUID
    to_status: CaseStatus
    alert_ids: list[uuid.UUID] = Field(default_factory=list)
    note_ids: list[uuid.UUID] = Field(default_factory=list)
    task_ids: list[uuid.UUID] = Field(default_factory=list)
    attachment_ids: list[uuid.UUID] = Field(default_factory=list)
    alert_count: int = Field(ge=0)


class CaseAlertRemovedV1(CaseEventBase):
    """Alerts (and with an unmerge, notes, tasks and attachments) left this case for
    `to_case_id`."""

    type: Literal["case.alert_removed"] = "case.alert_removed"
    alert_ids: list[uuid.UUID] = Field(default_factory=list)
    note_ids: list[uuid.UUID] = Field(default_factory=list)
    task_ids: list[uuid.UUID] = Field(default_factory=list)
    attachment_ids: list[uuid.UUID] = Field(default_factory=list)
    alert_count: int = Field(ge=0)
    to_case_id: uuid.UUID
    reason: Literal["split", "unmerge"]


# A task field's value in case.task_updated: text, a position, a due time or null.
TaskFieldValue = datetime | int | str | None


class TaskFieldChange(BaseModel):
    old: TaskFieldValue = None
    new: TaskFieldValue = None


class CaseTaskAddedV1(CaseEventBase):
    """A task was added to the case, by hand or from the template the case was opened
    with (`template`); it carries the whole task as added."""

    type: Literal["case.task_added"] = "case.task_added"
    task_id: uuid.UUID
    title: str
    description: str | None = None
    status: CaseTaskStatus
    assignee: str | None = None
    due_at: datetime | None = None
    position: int = Field(ge=0)
    completed_at: datetime | None = None
    template: str | None = None


class CaseTaskUpdatedV1(CaseEventBase):
    """One change of one task: every field that changed, with its old and new value
    (`position` is the task's place in the case's list, from 0). `completed_at` is the
    task's after the change (set by done/cancelled, cleared by reopening)."""

    type: Literal["case.task_updated"] = "case.task_updated"
    task_id: uuid.UUID
    title: str = Field(description="the task's title after the change")
    changes: dict[str, TaskFieldChange] = Field(min_length=1)
    status: CaseTaskStatus = Field(description="the task's status after the change")
    completed_at: datetime | None = None


class CaseTaskRemovedV1(CaseEventBase):
    """A task was deleted from the case; what it was, for the record."""

    type: Literal["case.task_removed"] = "case.task_removed"
    task_id: uuid.UUID
    title: str
    status: CaseTaskStatus
    position: int = Field(ge=0)


class CaseLegalHoldSetV1(CaseEventBase):
    """The tenant's admin put the case on legal hold (or changed the hold's reason): it can
    be neither deleted nor purged by retention until the hold is released."""

    type: Literal["case.legal_hold_set"] = "case.legal_hold_set"
    reason: str = Field(min_length=1, max_length=4_096)
    since: datetime
    # Set when the case was already held and only the reason changed.
    previous_reason: str | None = None


class CaseLegalHoldReleasedV1(CaseEventBase):
    """The legal hold was released: deletion and retention apply to the case again."""

    type: Literal["case.legal_hold_released"] = "case.legal_hold_released"
    reason: str = Field(min_length=1, max_length=4_096)
    held_since: datetime
    held_reason: str


class CasePurgedV1(CaseEventBase):
    """Retention deleted the case for good, with its alerts, notes, audit timeline and
    links. Published on the bus only (the timeline it would join is gone); the tenant's
    record of it is the tombstone in case_purges. Consumers should forget the case."""

    type: Literal["case.purged"] = "case.purged"
    basis: Literal["closed", "deleted", "merged"]
    retention_days: int = Field(ge=1)
    policy_version: int = Field(ge=1)
    # When the case closed or was deleted; for basis "merged", of the case it went with.
    due_since: datetime
    # The case whose purge took this one along (this one was merged into it).
    purged_with: uuid.UUID | None = None
    removed: dict[str, int] = Field(default_factory=dict, description="rows per table")


CaseEventV1 = Annotated[
    CaseOpenedV1
    | CaseAlertAttachedV1
    | CaseSeverityUpgradedV1
    | CaseStatusChangedV1
    | CaseFieldChangedV1
    | CaseNoteAddedV1
    | CaseReopenedV1
    | CaseSlaEventV1
    | CaseDeletedV1
    | CaseRestoredV1
    | CaseMergedIntoV1
    | CaseMergedFromV1
    | CaseUnmergedV1
    | CaseAlertRemovedV1
    | CaseCustomFieldChangedV1
    | CaseTaskAddedV1
    | CaseTaskUpdatedV1
    | CaseTaskRemovedV1
    | CaseLegalHoldSetV1
    | CaseLegalHoldReleasedV1
    | CasePurgedV1
    | CaseAttachmentAddedV1
    | CaseAttachmentRemovedV1,
    Field(discriminator="type"),
]

case_event_adapter: TypeAdapter[CaseEventV1] = TypeAdapter(CaseEventV1)


def parse_case_event(raw: bytes | str) -> CaseEventV1:
    return case_event_adapter.validate_json(raw)
