"""SQL of the dashboard and the case reports. Every statement filters on the tenant and
leaves deleted cases out; each figure set is one grouped statement, so the cost is one
scan of the tenant's cases in the period (ix_cases_tenant_created), never a loop in
Python over cases."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Float, and_, case, cast, extract, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.contracts.cases import CaseClassification
from libs.common.db.models import Case

CASES = Case.__table__  # type: ignore[attr-defined]


class GroupBy(StrEnum):
    NONE = "none"
    RULE = "rule"
    ASSIGNEE = "assignee"


@dataclass(frozen=True)
class StatusSeverityCount:
    status: str
    severity: str
    count: int


@dataclass(frozen=True)
class OverdueTotals:
    cases: int
    ack_overdue: int
    resolve_overdue: int


@dataclass(frozen=True)
class OverdueCase:
    id: Any
    number: int
    title: str
    severity: str
    status: str
    ack_due_at: datetime | None
    resolve_due_at: datetime | None
    ack_overdue: bool
    resolve_overdue: bool
    overdue_since: datetime


@dataclass(frozen=True)
class CaseFigures:
    """Raw counts and durations of one group (or the whole period); shares are the
    service's arithmetic on these."""

    key: str | None
    volume: int
    acknowledged: int
    mtta_avg: float | None
    mtta_median: float | None
    resolved: int
    mttr_avg: float | None
    mttr_median: float | None
    ack_sla_counted: int
    ack_sla_met: int
    resolve_sla_counted: int
    resolve_sla_met: int
    classified: int
    true_positive: int
    false_positive: int
    benign: int


def _live(tenant_id: str) -> Any:
    return and_(CASES.c.tenant_id == tenant_id, CASES.c.deleted_at.is_(None))


async def count_by_status_and_severity(
    session: AsyncSession, tenant_id: str
) -> list[StatusSeverityCount]:
    """At most statuses x severities rows; the service folds them into both views."""
    statement = (
        select(CASES.c.status, CASES.c.severity, func.count())
        .where(_live(tenant_id))
        .group_by(CASES.c.status, CASES.c.severity)
    )
    rows = (await session.execute(statement)).all()
    return [StatusSeverityCount(status, severity, int(n)) for status, severity, n in rows]


def _overdue(now: datetime) -> tuple[Any, Any]:
    """Due time passed and the step not done yet: overdue at `now`. A step done late is a
    past breach (the reports' compliance counts it), not something to act on now."""
    ack = and_(CASES.c.ack_due_at < now, CASES.c.acknowledged_at.is_(None))
    resolve = and_(CASES.c.resolve_due_at < now, CASES.c.resolved_at.is_(None))
    return ack, resolve


def _open_and_overdue(tenant_id: str, open_statuses: Sequence[str], now: datetime) -> Any:
    ack, resolve = _overdue(now)
    return and_(_live(tenant_id), CASES.c.status.in_(open_statuses), ack | resolve)


async def overdue_totals(
    session: AsyncSession, tenant_id: str, open_statuses: Sequence[str], now: datetime
) -> OverdueTotals:
    ack, resolve = _overdue(now)
    statement = select(func.count(), func.count().filter(ack), func.count().filter(resolve)).where(
        _open_and_overdue(tenant_id, open_statuses, now)
    )
    cases, acks, resolves = (await session.execute(statement)).one()
    return OverdueTotals(int(cases), int(acks), int(resolves))


async def oldest_overdue(
    session: AsyncSession,
    tenant_id: str,
    open_statuses: Sequence[str],
    now: datetime,
    limit: int,
) -> list[OverdueCase]:
    """The open cases overdue longest: ordered by the earliest due time they missed."""
    ack, resolve = _overdue(now)
    since = func.least(
        case((ack, CASES.c.ack_due_at)), case((resolve, CASES.c.resolve_due_at))
    ).label("overdue_since")
    statement = (
        select(
            CASES.c.id,
            CASES.c.number,
            CASES.c.title,
            CASES.c.severity,
            CASES.c.status,
            CASES.c.ack_due_at,
            CASES.c.resolve_due_at,
            ack.label("ack_overdue"),
            resolve.label("resolve_overdue"),
            since,
        )
        .where(_open_and_overdue(tenant_id, open_statuses, now))
        .order_by(since.asc(), CASES.c.number.asc())
        .limit(limit)
    )
    rows = (await session.execute(statement)).mappings().all()
    return [OverdueCase(**row) for row in rows]


def _seconds(later: Any) -> Any:
    """Seconds from creation to `later`; NULL when `later` is, so aggregates skip it."""
    return cast(extract("epoch", later - CASES.c.created_at), Float)


def _figures_columns() -> list[Any]:
    to_ack, to_resolve = _seconds(CASES.c.acknowledged_at), _seconds(CASES.c.resolved_at)
    acked_with_due = and_(CASES.c.acknowledged_at.is_not(None), CASES.c.ack_due_at.is_not(None))
    resolved_with_due = and_(CASES.c.resolved_at.is_not(None), CASES.c.resolve_due_at.is_not(None))
    classification = CASES.c.classification
    return [
        func.count().label("volume"),
        func.count(CASES.c.acknowledged_at).label("acknowledged"),
        func.avg(to_ack).label("mtta_avg"),
        func.percentile_cont(0.5).within_group(to_ack).label("mtta_median"),
        func.count(CASES.c.resolved_at).label("resolved"),
        func.avg(to_resolve).label("mttr_avg"),
        func.percentile_cont(0.5).within_group(to_resolve).label("mttr_median"),
        func.count().filter(acked_with_due).label("ack_sla_counted"),
        func.count().filter(CASES.c.acknowledged_at <= CASES.c.ack_due_at).label("ack_sla_met"),
        func.count().filter(resolved_with_due).label("resolve_sla_counted"),
        func.count().filter(CASES.c.resolved_at <= CASES.c.resolve_due_at).label("resolve_sla_met"),
        func.count().filter(classification != CaseClassification.PENDING.value).label("classified"),
        *(
            func.count().filter(classification == value.value).label(value.value)
            for value in (
                CaseClassification.TRUE_POSITIVE,
                CaseClassification.FALSE_POSITIVE,
                CaseClassification.BENIGN,
            )
        ),
    ]


def _group_column(group_by: GroupBy) -> Any:
    if group_by is GroupBy.RULE:
        return CASES.c.rule_id
    if group_by is GroupBy.ASSIGNEE:
        return CASES.c.assignee
    return literal(None, type_=CASES.c.rule_id.type)


async def case_figures(
    session: AsyncSession,
    tenant_id: str,
    start: datetime,
    end: datetime,
    group_by: GroupBy,
    limit: int,
) -> list[CaseFigures]:
    """Figures over the cases created in [start, end), one row per group (one row in
    all for GroupBy.NONE), largest volume first, at most `limit` rows."""
    key = _group_column(group_by).label("key")
    statement = select(key, *_figures_columns()).where(
        _live(tenant_id), CASES.c.created_at >= start, CASES.c.created_at < end
    )
    if group_by is not GroupBy.NONE:
        statement = statement.group_by(key).order_by(func.count().desc(), key.asc().nulls_last())
    rows = (await session.execute(statement.limit(limit))).mappings().all()
    return [_figures(row) for row in rows]


def _figures(row: Any) -> CaseFigures:
    def duration(name: str) -> float | None:
        value = row[name]
        return None if value is None else float(value)

    counts = {
        name: int(row[name])
        for name in (
            "volume",
            "acknowledged",
            "resolved",
            "ack_sla_counted",
            "ack_sla_met",
            "resolve_sla_counted",
            "resolve_sla_met",
            "classified",
            "true_positive",
            "false_positive",
            "benign",
        )
    }
    return CaseFigures(
        key=row["key"],
        mtta_avg=duration("mtta_avg"),
        mtta_median=duration("mtta_median"),
        mttr_avg=duration("mttr_avg"),
        mttr_median=duration("mttr_median"),
        **counts,
    )
