"""Read queries of the cases API. Every statement filters on the tenant."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, and_, cast, func, or_, text
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer
from sqlmodel import col, select

from libs.common.casestore.lifecycle import OPEN_STATUSES, WORKFLOWS, Workflow
from libs.common.contracts.cases import CaseClassification, CaseStatus
from libs.common.db.models import Alert, Case, CaseEvent, CaseNote, TenantCasePolicy


async def get_case(session: AsyncSession, tenant_id: str, case_id: uuid.UUID) -> Case | None:
    """The case unless it is deleted: a deleted case is not found by any read."""
    statement = select(Case).where(
        Case.tenant_id == tenant_id, Case.id == case_id, col(Case.deleted_at).is_(None)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def case_alerts(
    session: AsyncSession, tenant_id: str, case_id: uuid.UUID, limit: int
) -> list[Alert]:
    # The stored detection document stays out: lists never carry raw payloads.
    statement = (
        select(Alert)
        .options(defer(Alert.detection))  # type: ignore[arg-type]
        .where(Alert.tenant_id == tenant_id, Alert.case_id == case_id)
        .order_by(Alert.effective_time, Alert.id)  # type: ignore[arg-type]
        .limit(limit)
    )
    return list((await session.execute(statement)).scalars())


async def case_alerts_with_payloads(
    session: AsyncSession, tenant_id: str, case_id: uuid.UUID
) -> list[Alert]:
    """Every alert of the case with its detection document (for the export only)."""
    statement = (
        select(Alert)
        .where(Alert.tenant_id == tenant_id, Alert.case_id == case_id)
        .order_by(Alert.effective_time, Alert.id)  # type: ignore[arg-type]
    )
    return list((await session.execute(statement)).scalars())


async def get_alert(session: AsyncSession, tenant_id: str, alert_id: uuid.UUID) -> Alert | None:
    statement = (
        select(Alert)
        .options(defer(Alert.detection))  # type: ignore[arg-type]
        .where(Alert.tenant_id == tenant_id, Alert.id == alert_id)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def case_timeline(
    session: AsyncSession, tenant_id: str, case_id: uuid.UUID
) -> list[CaseEvent]:
    statement = (
        select(CaseEvent)
        .where(CaseEvent.tenant_id == tenant_id, CaseEvent.case_id == case_id)
        .order_by(CaseEvent.seq)  # type: ignore[arg-type]
    )
    return list((await session.execute(statement)).scalars())


async def case_notes(session: AsyncSession, tenant_id: str, case_id: uuid.UUID) -> list[CaseNote]:
    statement = (
        select(CaseNote)
        .where(CaseNote.tenant_id == tenant_id, CaseNote.case_id == case_id)
        .order_by(CaseNote.created_at, CaseNote.id)  # type: ignore[arg-type]
    )
    return list((await session.execute(statement)).scalars())


# Per target: unmet, its warning moment has come, and its notice not yet recorded (a
# recorded breach settles the warning too).
OWING_SLA_NOTICES = text(
    "SELECT tenant_id, id FROM cases WHERE status = ANY(CAST(:open AS text[]))"
    " AND deleted_at IS NULL AND ("
    "(acknowledged_at IS NULL AND ack_due_at IS NOT NULL"
    " AND NOT ('ack.breached' = ANY(sla_notices))"
    " AND created_at + (ack_due_at - created_at) * CAST(:ratio AS float8) <= :now"
    " AND (ack_due_at <= :now OR NOT ('ack.pre_breach' = ANY(sla_notices))))"
    " OR "
    "(resolved_at IS NULL AND resolve_due_at IS NOT NULL"
    " AND NOT ('resolve.breached' = ANY(sla_notices))"
    " AND created_at + (resolve_due_at - created_at) * CAST(:ratio AS float8) <= :now"
    " AND (resolve_due_at <= :now OR NOT ('resolve.pre_breach' = ANY(sla_notices))))"
    ") ORDER BY LEAST(ack_due_at, resolve_due_at), id LIMIT :limit"
)


async def cases_owing_sla_notices(
    session: AsyncSession, now: datetime, pre_breach_ratio: float, limit: int
) -> list[tuple[str, uuid.UUID]]:
    """(tenant, case) of open cases that may owe an SLA notice at `now`, soonest due first.

    Deliberately across tenants: the SLA scanner is the system clock, not a caller. The
    case store decides again, under each case's row lock, exactly which notices are owed."""
    parameters = {
        "open": sorted(OPEN_STATUSES),
        "now": now,
        "ratio": pre_breach_ratio,
        "limit": limit,
    }
    result = await session.execute(OWING_SLA_NOTICES, parameters)
    return [(row.tenant_id, row.id) for row in result]


async def cases_due_for_auto_close(
    session: AsyncSession, now: datetime, limit: int
) -> list[tuple[str, uuid.UUID, int]]:
    """(tenant, case, days) of resolved cases whose tenant's policy closes them after
    `days` and whose time has come; across tenants, like the SLA query. Cases that cannot
    be closed without a person (a required field missing) are left out, so they never
    crowd the batch; the case store checks both again under the row lock."""
    policy = TenantCasePolicy
    latest = (
        select(col(policy.tenant_id), col(policy.document))
        .ext(distinct_on(col(policy.tenant_id)))
        .order_by(col(policy.tenant_id), col(policy.version).desc())
        .cte("latest_policies")
    )
    days = cast(latest.c.document["auto_close_after_days"].astext, Integer)
    statement = (
        select(col(Case.tenant_id), col(Case.id), days)
        .join(latest, latest.c.tenant_id == Case.tenant_id)
        .where(
            Case.status == CaseStatus.RESOLVED.value,
            col(Case.deleted_at).is_(None),
            days.is_not(None),
            col(Case.resolved_at) <= now - func.make_interval(0, 0, 0, days),
            or_(*(_closable(workflow) for workflow in WORKFLOWS.values())),
        )
        .order_by(col(Case.resolved_at), col(Case.id))
        .limit(limit)
    )
    return [(row[0], row[1], int(row[2])) for row in await session.execute(statement)]


def _closable(workflow: Workflow) -> Any:
    """SQL twin of lifecycle.check_required_fields for a move to closed."""
    present = [
        col(Case.classification) != CaseClassification.PENDING.value
        if field == "classification"
        else and_(getattr(Case, field).is_not(None), getattr(Case, field) != "")
        for field in workflow.requires.get(CaseStatus.CLOSED, ())
    ]
    return and_(col(Case.workflow) == workflow.name.value, *present)
