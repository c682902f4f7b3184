"""API shapes of the dashboard and the case reports. Each description says what the
figure counts: a number on a SOC report is only as good as its definition."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from libs.common.contracts.cases import CaseStatus
from libs.common.contracts.detections import Severity
from services.cases.reports_repository import GroupBy


class OverdueCaseOut(BaseModel):
    id: uuid.UUID
    number: int
    title: str
    severity: Severity
    status: CaseStatus
    ack_due_at: datetime | None
    resolve_due_at: datetime | None
    ack_overdue: bool = Field(description="ack due time passed, not acknowledged yet")
    resolve_overdue: bool = Field(description="resolve due time passed, not resolved yet")
    overdue_since: datetime = Field(description="the earliest due time the case missed")


class SlaBreachesNow(BaseModel):
    open_cases: int = Field(
        description="open cases with a due time passed and its step not done yet "
        "(a case acknowledged late but not yet due to resolve is not counted: that breach "
        "is past, and shows in the reports' SLA compliance)"
    )
    ack_overdue: int = Field(description="of those, not acknowledged by ack_due_at")
    resolve_overdue: int = Field(description="of those, not resolved by resolve_due_at")
    oldest: list[OverdueCaseOut] = Field(
        description="the cases overdue longest (earliest missed due time first)"
    )


class Dashboard(BaseModel):
    as_of: datetime = Field(description="the moment breaches were judged at")
    total: int = Field(description="cases of the tenant, deleted ones left out")
    open: int = Field(description="of those, in a status still being worked")
    by_status: dict[CaseStatus, int] = Field(description="every status, zeros included")
    by_severity: dict[Severity, int] = Field(description="all cases per severity")
    open_by_severity: dict[Severity, int] = Field(description="open cases per severity")
    sla_breaches: SlaBreachesNow


class Duration(BaseModel):
    cases: int = Field(description="cases that have the timestamp: the figures' base")
    average_seconds: float | None = Field(description="null when no case has it")
    median_seconds: float | None = Field(
        description="the continuous median (percentile_cont 0.5): the mean of the two "
        "middle values when the count is even"
    )


class SlaCompliance(BaseModel):
    counted: int = Field(
        description="cases that reached the step and had a due time for it; cases "
        "without due times (opened before SLAs) are left out"
    )
    met: int = Field(description="of those, done at or before the due time")
    share: float | None = Field(description="met / counted, 0..1; null when none counted")


class ClassificationRates(BaseModel):
    classified: int = Field(description="cases whose classification is not pending")
    true_positive: float | None = Field(description="share of classified cases, 0..1")
    false_positive: float | None = Field(description="share of classified cases, 0..1")
    benign: float | None = Field(description="share of classified cases, 0..1")


class CaseFiguresOut(BaseModel):
    volume: int = Field(
        description="cases created in the period, deleted ones left out (merged ones in)"
    )
    mtta: Duration = Field(description="acknowledged_at - created_at, acknowledged cases")
    mttr: Duration = Field(description="resolved_at - created_at, resolved cases")
    ack_sla: SlaCompliance = Field(description="acknowledged by ack_due_at")
    resolve_sla: SlaCompliance = Field(description="resolved by resolve_due_at")
    classification: ClassificationRates


class CaseGroupOut(CaseFiguresOut):
    key: str | None = Field(description="the rule id or assignee; null when cases have none")
    label: str = Field(description='the key, or "unassigned" / "no rule" for null')


class CaseReport(BaseModel):
    start: datetime = Field(description="inclusive: cases created at or after")
    end: datetime = Field(description="exclusive: cases created before")
    group_by: GroupBy
    total: CaseFiguresOut = Field(description="every case of the period, ungrouped")
    groups: list[CaseGroupOut] = Field(
        description="per group, largest volume first; empty for group_by=none"
    )
    groups_truncated: bool = Field(description="more groups exist than were listed")
