"""A tenant's case policy: which workflow its new cases follow and its SLA targets.
Stored as versioned documents, one row per version, so every change is kept with who
made it; the newest version is the one in force."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.casestore import repository
from libs.common.casestore.lifecycle import DEFAULT_WORKFLOW, WorkflowName
from libs.common.contracts.detections import Severity

MAX_TARGET_MINUTES = 366 * 24 * 60
MAX_RETENTION_DAYS = 3_650


class SlaTarget(BaseModel):
    """Minutes from a case's creation to its acknowledgement (MTTA) and resolution (MTTR)."""

    model_config = ConfigDict(extra="forbid")

    ack_minutes: int = Field(ge=1, le=MAX_TARGET_MINUTES)
    resolve_minutes: int = Field(ge=1, le=MAX_TARGET_MINUTES)


DEFAULT_SLA: dict[Severity, SlaTarget] = {
    Severity.CRITICAL: SlaTarget(ack_minutes=15, resolve_minutes=4 * 60),
    Severity.HIGH: SlaTarget(ack_minutes=15, resolve_minutes=12 * 60),
    Severity.MEDIUM: SlaTarget(ack_minutes=60, resolve_minutes=24 * 60),
    Severity.LOW: SlaTarget(ack_minutes=100, resolve_minutes=47 * 60),
    Severity.INFO: SlaTarget(ack_minutes=8 * 60, resolve_minutes=7 * 24 * 60),
}


class CasePolicy(BaseModel):
    """The policy document. Every field has a default, so documents stored before a field
    existed still read, and a tenant that never set anything gets the defaults."""

    model_config = ConfigDict(extra="forbid")

    workflow: WorkflowName = DEFAULT_WORKFLOW
    # Severities left out keep the defaults.
    sla: dict[Severity, SlaTarget] = Field(default_factory=lambda: dict(DEFAULT_SLA))
    # Resolved cases close by themselves this many days after resolution; null: never.
    auto_close_after_days: int | None = Field(default=None, ge=1, le=3_650)
    # Closed or deleted cases are purged for good (with their alerts, notes and audit
    # trail) this many days after closing or deletion, unless on legal hold; null: kept
    # forever. Off by default: destroying records is a choice each tenant makes for its
    # own obligations, never something an upgrade starts doing (docs/retention.md).
    retention_days: int | None = Field(default=None, ge=1, le=MAX_RETENTION_DAYS)

    @field_validator("sla")
    @classmethod
    def _complete(cls, sla: dict[Severity, SlaTarget]) -> dict[Severity, SlaTarget]:
        return {severity: sla.get(severity, DEFAULT_SLA[severity]) for severity in Severity}

    def due_times(self, created_at: datetime, severity: Severity) -> tuple[datetime, datetime]:
        """When a case of this severity, opened at `created_at`, is due (ack, resolve)."""
        target = self.sla[severity]
        return (
            created_at + timedelta(minutes=target.ack_minutes),
            created_at + timedelta(minutes=target.resolve_minutes),
        )


class VersionedPolicy(BaseModel):
    version: int = Field(ge=0, description="0: the defaults, never set by this tenant")
    policy: CasePolicy


async def load_policy(session: AsyncSession, tenant_id: str) -> VersionedPolicy:
    row = await repository.latest_policy(session, tenant_id)
    if row is None:
        return VersionedPolicy(version=0, policy=CasePolicy())
    return VersionedPolicy(version=row.version, policy=CasePolicy.model_validate(row.document))
