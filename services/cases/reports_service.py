"""Rules of the dashboard and the case reports: which statuses are open, what period a
report may cover, and the shares computed from the repository's counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.casestore.lifecycle import OPEN_STATUSES
from libs.common.contracts.cases import CaseStatus
from libs.common.contracts.detections import Severity
from libs.common.errors import InvalidInput
from libs.common.http import Principal
from services.cases import reports_repository as repository
from services.cases.reports_repository import CaseFigures, GroupBy
from services.cases.reports_schemas import (
    CaseFiguresOut,
    CaseGroupOut,
    CaseReport,
    ClassificationRates,
    Dashboard,
    Duration,
    OverdueCaseOut,
    SlaBreachesNow,
    SlaCompliance,
)

MAX_PERIOD = timedelta(days=366)
MAX_GROUPS = 200
NO_KEY_LABEL = {GroupBy.RULE: "no rule", GroupBy.ASSIGNEE: "unassigned"}
_OPEN = sorted(status.value for status in OPEN_STATUSES)


async def dashboard(session: AsyncSession, caller: Principal, breaches_listed: int) -> Dashboard:
    now = datetime.now(UTC)
    counts = await repository.count_by_status_and_severity(session, caller.tenant_id)
    by_status = dict.fromkeys(CaseStatus, 0)
    by_severity = dict.fromkeys(Severity, 0)
    open_by_severity = dict.fromkeys(Severity, 0)
    for row in counts:  # at most statuses x severities rows, not cases
        by_status[CaseStatus(row.status)] += row.count
        by_severity[Severity(row.severity)] += row.count
        if row.status in _OPEN:
            open_by_severity[Severity(row.severity)] += row.count
    totals = await repository.overdue_totals(session, caller.tenant_id, _OPEN, now)
    oldest = await repository.oldest_overdue(session, caller.tenant_id, _OPEN, now, breaches_listed)
    return Dashboard(
        as_of=now,
        total=sum(by_status.values()),
        open=sum(open_by_severity.values()),
        by_status=by_status,
        by_severity=by_severity,
        open_by_severity=open_by_severity,
        sla_breaches=SlaBreachesNow(
            open_cases=totals.cases,
            ack_overdue=totals.ack_overdue,
            resolve_overdue=totals.resolve_overdue,
            oldest=[OverdueCaseOut.model_validate(case, from_attributes=True) for case in oldest],
        ),
    )


def check_period(start: datetime, end: datetime) -> None:
    """Both bounds with a zone (a naive time means a different period per server), end
    after start, at most MAX_PERIOD long (one report is one bounded scan)."""
    naive = [name for name, value in (("start", start), ("end", end)) if value.tzinfo is None]
    if naive:
        raise InvalidInput(
            "start and end need a time zone, e.g. 2026-01-01T00:00:00Z", fields=naive
        )
    if end <= start:
        raise InvalidInput("end must be after start", start=start.isoformat(), end=end.isoformat())
    if end - start > MAX_PERIOD:
        raise InvalidInput(
            f"the period may be at most {MAX_PERIOD.days} days long",
            max_days=MAX_PERIOD.days,
        )


async def case_report(
    session: AsyncSession, caller: Principal, start: datetime, end: datetime, group_by: GroupBy
) -> CaseReport:
    check_period(start, end)
    (total,) = await repository.case_figures(session, caller.tenant_id, start, end, GroupBy.NONE, 1)
    groups: list[CaseFigures] = []
    if group_by is not GroupBy.NONE:
        groups = await repository.case_figures(
            session, caller.tenant_id, start, end, group_by, MAX_GROUPS + 1
        )
    return CaseReport(
        start=start,
        end=end,
        group_by=group_by,
        total=_render(total),
        groups=[
            CaseGroupOut(
                key=group.key,
                label=group.key if group.key is not None else NO_KEY_LABEL[group_by],
                **_render(group).model_dump(),
            )
            for group in groups[:MAX_GROUPS]
        ],
        groups_truncated=len(groups) > MAX_GROUPS,
    )


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _render(figures: CaseFigures) -> CaseFiguresOut:
    classified = figures.classified
    return CaseFiguresOut(
        volume=figures.volume,
        mtta=Duration(
            cases=figures.acknowledged,
            average_seconds=figures.mtta_avg,
            median_seconds=figures.mtta_median,
        ),
        mttr=Duration(
            cases=figures.resolved,
            average_seconds=figures.mttr_avg,
            median_seconds=figures.mttr_median,
        ),
        ack_sla=SlaCompliance(
            counted=figures.ack_sla_counted,
            met=figures.ack_sla_met,
            share=_share(figures.ack_sla_met, figures.ack_sla_counted),
        ),
        resolve_sla=SlaCompliance(
            counted=figures.resolve_sla_counted,
            met=figures.resolve_sla_met,
            share=_share(figures.resolve_sla_met, figures.resolve_sla_counted),
        ),
        classification=ClassificationRates(
            classified=classified,
            true_positive=_share(figures.true_positive, classified),
            false_positive=_share(figures.false_positive, classified),
            benign=_share(figures.benign, classified),
        ),
    )
