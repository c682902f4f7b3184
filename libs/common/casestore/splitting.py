"""Splitting chosen alerts out of a case into a new one, inside the caller's transaction.

Each moved alert keeps its grouping decision and gains a `moves` entry saying it was split
off, from which case, by whom and when. The source keeps its grouping slots: alerting goes
on growing it, and the new case is the analyst's, not a group key's."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.casestore import move_repository as moves
from libs.common.casestore import repository
from libs.common.casestore.batch import CaseOpening, NewAlert, NewCase, insert_new_cases
from libs.common.casestore.events import event_base, record_events
from libs.common.casestore.policy import load_policy
from libs.common.contracts.cases import (
    CaseAlertRemovedV1,
    CaseEventV1,
    CaseOpenedV1,
    CaseStatus,
)
from libs.common.contracts.detections import Severity
from libs.common.db.models import Case
from libs.common.errors import Conflict, InvalidInput, NotFound

MAX_SPLIT_ALERTS = 1_000


@dataclass(frozen=True)
class SplitOutcome:
    case: Case  # the new one
    source: Case
    alert_ids: list[uuid.UUID]


async def split_case(
    session: AsyncSession,
    source: str,
    tenant_id: str,
    case_id: uuid.UUID,
    alert_ids: Sequence[uuid.UUID],
    actor: str,
    title: str | None = None,
) -> SplitOutcome:
    _check_split_request(alert_ids)
    # Read before any lock to derive the new case; the move below re-checks under the lock.
    alerts = await moves.alerts_by_id(session, tenant_id, alert_ids)
    foreign = sorted(
        {str(a) for a in alert_ids} - {str(a.id) for a in alerts if a.case_id == case_id}
    )
    if foreign:
        await _existing(session, tenant_id, case_id)  # an unknown case is 404 first
        raise InvalidInput("these alerts are not on this case", alert_ids=foreign)
    policy = (await load_policy(session, tenant_id)).policy
    # The case number lock before the case row lock: the order of every writer that takes
    # numbers in its own transaction (alerting takes them on the side, casestore/numbers.py).
    (opened,) = await insert_new_cases(
        session, tenant_id, [_opening(tenant_id, case_id, alerts, actor, title)], policy
    )
    case = await _existing(session, tenant_id, case_id)
    now = datetime.now(UTC)
    move = {"action": "split", "to_case_id": str(opened.id), "by": actor, "at": now.isoformat()}
    moved = await moves.move_alerts_by_id(session, tenant_id, alert_ids, case_id, opened.id, move)
    if len(moved) != len(alert_ids):
        raise Conflict("some of these alerts left the case meanwhile; try again")
    left = await moves.alert_span(session, tenant_id, case_id)
    if left.count == 0:
        raise InvalidInput(
            "a split must leave at least one alert on the case; to move them all, "
            "merge the case instead",
            case_id=str(case_id),
        )
    case = await repository.update_case(
        session,
        tenant_id,
        case_id,
        {"alert_count": left.count, "first_event_at": left.first, "last_event_at": left.last},
    )
    moved_ids = [a.id for a in alerts]
    events: list[CaseEventV1] = [
        CaseAlertRemovedV1(
            **event_base(case, actor),
            alert_ids=moved_ids,
            alert_count=left.count,
            to_case_id=opened.id,
            reason="split",
        ),
        CaseOpenedV1(
            **event_base(opened, actor),
            title=opened.title,
            severity=Severity(opened.severity),
            status=CaseStatus(opened.status),
            alert_ids=moved_ids,
            workflow=opened.workflow,
            ack_due_at=opened.ack_due_at,
            resolve_due_at=opened.resolve_due_at,
            split_from=case_id,
        ),
    ]
    await record_events(session, source, events)
    return SplitOutcome(opened, case, moved_ids)


def _check_split_request(alert_ids: Sequence[uuid.UUID]) -> None:
    if not alert_ids:
        raise InvalidInput("name at least one alert to split off")
    if len(alert_ids) > MAX_SPLIT_ALERTS:
        raise InvalidInput(
            f"at most {MAX_SPLIT_ALERTS} alerts per split",
            limit=MAX_SPLIT_ALERTS,
            given=len(alert_ids),
        )
    repeated = sorted({str(a) for a in alert_ids if alert_ids.count(a) > 1})
    if repeated:
        raise InvalidInput("an alert is named more than once", alert_ids=repeated)


async def _existing(session: AsyncSession, tenant_id: str, case_id: uuid.UUID) -> Case:
    case = await repository.lock_case(session, tenant_id, case_id)
    if case is None:
        raise NotFound("case not found", case_id=str(case_id))
    return case


def _opening(
    tenant_id: str,
    case_id: uuid.UUID,
    alerts: list[moves.AlertRow],
    actor: str,
    title: str | None,
) -> CaseOpening:
    """The new case: titled like alerting titles a case when the alerts share a rule and
    host, else after the first alert; as severe as its most severe alert."""
    first = alerts[0]
    same_rule = len({(a.rule_id, a.host) for a in alerts}) == 1
    derived = (
        f"{first.rule_name} on {first.host or 'unknown host'}"
        if same_rule
        else f"{first.title} and {len(alerts) - 1} more alerts"
    )
    severity = max((Severity(a.severity) for a in alerts), key=lambda s: s.rank)
    new = NewCase(
        tenant_id=tenant_id,
        title=(title or derived)[:1_024],
        severity=severity,
        description=f"Split off case {case_id} by {actor}.",
        host=first.host if len({a.host for a in alerts}) == 1 else None,
        rule_id=first.rule_id if len({a.rule_id for a in alerts}) == 1 else None,
    )
    # Only the event times count here: the alerts exist already and are moved, not stored.
    stand_ins = [
        NewAlert(a.id, tenant_id, Severity(a.severity), a.effective_time, {}) for a in alerts
    ]
    return CaseOpening(new, stand_ins)
