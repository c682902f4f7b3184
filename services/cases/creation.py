"""Opening cases by hand, several at a time.

Concurrent `POST /api/v1/cases` requests are committed together (create_batcher.py):
each still gets its own case, number, audit event and outbox row, exactly as if it had
been alone, and a request refused by its template or custom fields is refused alone.
What a batch costs is a fixed number of statements per (tenant, actor): the template
reads of the requests naming one, one read of the custom field definitions, the store's
grouping write, and (when a template gave them some) one read of the new cases' tasks
for the answers; their timelines are the audit rows just written."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.casestore.fields import normalize_tags
from libs.common.casestore.store import CaseStore, CheckedCase, GroupingWrite, NewCase
from libs.common.db.models import Alert, Case, CaseEvent, CaseNote, CaseTask
from libs.common.errors import DomainError
from libs.common.http import Principal
from services.cases import tasks_repository, templates_service
from services.cases.schemas import (
    AlertSummary,
    CaseDetail,
    CaseIn,
    CaseSummary,
    NoteOut,
    TimelineEntry,
)
from services.cases.tasks_schemas import TaskCounts, TaskOut

MAX_ALERTS_IN_DETAIL = 1_000


@dataclass(frozen=True)
class CreateRequest:
    caller: Principal
    body: CaseIn


def case_detail(
    case: Case,
    timeline: Sequence[CaseEvent | dict[str, Any]],
    tasks: Sequence[CaseTask] = (),
    alerts: Sequence[Alert] = (),
    notes: Sequence[CaseNote] = (),
) -> CaseDetail:
    """The case with what hangs off it; `alerts` may hold one more than the detail shows
    (so it can say it truncated them)."""
    return CaseDetail(
        **CaseSummary.model_validate(case).model_dump(),
        description=case.description,
        investigation_summary=case.investigation_summary,
        conclusion=case.conclusion,
        alerts=[AlertSummary.model_validate(a) for a in alerts[:MAX_ALERTS_IN_DETAIL]],
        alerts_truncated=len(alerts) > MAX_ALERTS_IN_DETAIL,
        notes=[NoteOut.model_validate(n) for n in notes],
        tasks=[TaskOut.model_validate(t) for t in tasks],
        task_counts=TaskCounts.of(tasks),
        timeline=[TimelineEntry.model_validate(e) for e in timeline],
    )


async def create_cases(
    session: AsyncSession, store: CaseStore, requests: Sequence[CreateRequest]
) -> list[CaseDetail | DomainError]:
    """Each request's new case (in the session's transaction), or its own refusal."""
    outcomes: list[CaseDetail | DomainError | None] = [None] * len(requests)
    groups: dict[tuple[str, str], list[tuple[int, NewCase]]] = {}
    for index, request in enumerate(requests):
        try:
            new = await _new_case(session, request)
        except DomainError as error:
            outcomes[index] = error
            continue
        groups.setdefault((new.tenant_id, request.caller.name), []).append((index, new))
    # In tenant order: each group takes its tenant's case-number lock until the commit,
    # and two batches in flight taking two tenants' locks in opposite orders would
    # deadlock (Postgres would abort one a second later, and its requests retry alone).
    for (tenant_id, actor), group in sorted(groups.items()):
        checked = await store.check_openings(session, tenant_id, [new for _, new in group])
        accepted: list[tuple[int, CheckedCase]] = []
        for (index, _), result in zip(group, checked, strict=True):
            if isinstance(result, DomainError):
                outcomes[index] = result
            else:
                accepted.append((index, result))
        if not accepted:
            continue
        written = await store.open_checked_cases(
            session, tenant_id, [new for _, new in accepted], actor
        )
        details = await _opened_details(session, written, [new for _, new in accepted])
        for (index, _), detail in zip(accepted, details, strict=True):
            outcomes[index] = detail
    assert all(outcome is not None for outcome in outcomes)
    return [outcome for outcome in outcomes if outcome is not None]


async def _new_case(session: AsyncSession, request: CreateRequest) -> NewCase:
    body, tasks = await templates_service.with_template(session, request.caller, request.body)
    return NewCase(
        tenant_id=request.caller.tenant_id,
        title=body.title,
        severity=body.severity,
        description=body.description,
        assignee=body.assignee,
        # Checked here, per request: the store would refuse them in the batch's
        # transaction, and every other request of the batch would be retried alone.
        tags=tuple(normalize_tags(body.tags)),
        custom_fields=body.custom_fields,
        template=body.template,
        tasks=tasks,
    )


async def _opened_details(
    session: AsyncSession, written: GroupingWrite, news: Sequence[NewCase]
) -> list[CaseDetail]:
    """Details of cases this transaction opened: no alerts or notes yet, their timelines
    as just written, and tasks only where a template gave some (read back)."""
    timelines: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for row in written.recorded:
        timelines.setdefault(row["case_id"], []).append(row)
    cases = written.opened
    with_tasks = [case.id for case, new in zip(cases, news, strict=True) if new.tasks]
    tasks = {}
    if with_tasks:
        tenant_id = cases[0].tenant_id
        tasks = await tasks_repository.tasks_of_cases(session, tenant_id, with_tasks)
    return [case_detail(case, timelines[case.id], tasks.get(case.id, ())) for case in cases]
