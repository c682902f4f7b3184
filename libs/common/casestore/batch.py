"""Grouping writes for a whole batch: open cases and grow cases with a fixed number of
statements, however many cases the batch touches.

Per batch: one case-number allocation (in a transaction of its own for alerting,
casestore/numbers.py), one read of the tenant's case policy, one insert
of new cases, one lock of the cases being grown, one insert of all alerts and one of their
entities (and one of their matched events, for the chain strategy), one update of the
grown cases, and one insert each of audit events and outbox rows. Every case change
still gets exactly one event."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.alertstore.model import entity_key, entity_keys
from libs.common.casestore import repository
from libs.common.casestore.events import alert_outbox_rows, event_base, record_events
from libs.common.casestore.fields import normalize_tags
from libs.common.casestore.lifecycle import WORKFLOWS
from libs.common.casestore.numbers import CaseNumbers
from libs.common.casestore.policy import CasePolicy, load_policy
from libs.common.casestore.tasks import NewTask, add_opening_tasks
from libs.common.contracts.cases import (
    CaseAlertAttachedV1,
    CaseEventV1,
    CaseOpenedV1,
    CaseSeverityUpgradedV1,
    CaseStatus,
)
from libs.common.contracts.detections import Severity
from libs.common.db.models import Case
from libs.common.errors import NotFound


@dataclass(frozen=True)
class NewCase:
    tenant_id: str
    title: str
    severity: Severity
    description: str | None = None
    group_key: str | None = None
    host: str | None = None
    rule_id: str | None = None
    assignee: str | None = None
    tags: tuple[str, ...] = ()
    # Chosen by the caller when it must refer to the case before it exists (a
    # continuation opened in the same batch); a fresh id otherwise.
    id: uuid.UUID | None = None
    continues_case_id: uuid.UUID | None = None
    # Already checked against the tenant's definitions (CaseStore.open_case does it).
    custom_fields: Mapping[str, Any] = field(default_factory=dict)
    template: str | None = None  # the case template it was opened with, for the audit
    # Tasks it opens with (a template's): each a case.task_added after its case.opened.
    tasks: tuple[NewTask, ...] = ()


@dataclass(frozen=True)
class NewAlert:
    """An alert row as alerting builds it; the store links it to its case."""

    id: uuid.UUID
    tenant_id: str
    severity: Severity
    effective_time: datetime
    columns: dict[str, Any]
    # (entity type, lower-cased value) the alert carries, host included, for the case
    # entity index and the alert's entity_keys; None: the store reads them from the
    # detection instead (slower).
    entities: tuple[tuple[str, str], ...] | None = None
    # Source events its detection matched, indexed (alert_matched_events) while it has a
    # case; given only by writers grouping with the chain strategy.
    matched_event_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class CaseOpening:
    case: NewCase
    alerts: Sequence[NewAlert]


@dataclass(frozen=True)
class CaseGrowth:
    case_id: uuid.UUID
    alerts: Sequence[NewAlert]


@dataclass
class GroupingWrite:
    opened: list[Case] = field(default_factory=list)  # in the order of the openings
    inserted: set[uuid.UUID] = field(default_factory=set)  # alert ids actually stored
    recorded: list[dict[str, Any]] = field(default_factory=list)  # audit rows, in order


async def apply_grouping(
    session: AsyncSession,
    source: str,
    tenant_id: str,
    openings: Sequence[CaseOpening],
    growths: Sequence[CaseGrowth],
    actor: str,
    uncased: Sequence[NewAlert] = (),
    publish_alerts_v1: bool = True,
    numbers: CaseNumbers | None = None,
) -> GroupingWrite:
    result = GroupingWrite()
    growths = _one_growth_per_case(growths)
    # The policy in force decides new cases' workflow and every SLA due time computed here.
    policy = (await load_policy(session, tenant_id)).policy
    opened = await insert_new_cases(session, tenant_id, openings, policy, numbers)
    grown = await repository.lock_cases(session, tenant_id, [g.case_id for g in growths])
    # Deleted after the caller chose it: refused like a missing case, so alerting retries
    # the batch and then sees the case is no longer open.
    grown = {case_id: case for case_id, case in grown.items() if case.deleted_at is None}
    missing = [str(g.case_id) for g in growths if g.case_id not in grown]
    if missing:
        raise NotFound("case not found", case_ids=missing)
    rows = [
        _alert_row(case.id, a) for case, o in zip(opened, openings, strict=True) for a in o.alerts
    ]
    rows += [_alert_row(g.case_id, a) for g in growths for a in g.alerts]
    # Without a case: stored, and published on alerts.v2 only (alerts.v1 names a case).
    rows += [_alert_row(None, a) for a in uncased]
    result.inserted = set(await repository.insert_alerts(session, rows))
    cased = [(case.id, a) for case, o in zip(opened, openings, strict=True) for a in o.alerts]
    cased += [(g.case_id, a) for g in growths for a in g.alerts]
    await _index_entities(session, tenant_id, [(c, a) for c, a in cased if a.id in result.inserted])
    await repository.insert_alert_matched_events(
        session,
        tenant_id,
        [
            (event_id, a.id)
            for _, a in cased
            if a.id in result.inserted
            for event_id in a.matched_event_ids
        ],
    )
    events: list[CaseEventV1] = []
    for case, opening in zip(opened, openings, strict=True):
        stored = [a.id for a in opening.alerts if a.id in result.inserted]
        if len(stored) != len(opening.alerts):  # a concurrent writer stored some first
            case = await repository.update_case(
                session, tenant_id, case.id, {"alert_count": len(stored)}
            )
        result.opened.append(case)
        events.append(
            CaseOpenedV1(
                **event_base(case, actor),
                title=case.title,
                severity=Severity(case.severity),
                status=CaseStatus(case.status),
                group_key=case.group_key,
                alert_ids=stored,
                assignee=case.assignee,
                tags=list(case.tags),
                continues_case_id=case.continues_case_id,
                workflow=case.workflow,
                ack_due_at=case.ack_due_at,
                resolve_due_at=case.resolve_due_at,
                custom_fields=case.custom_fields,
                template=opening.case.template,
            )
        )
        events += await add_opening_tasks(
            session, case, opening.case.tasks, actor, opening.case.template
        )
    updates = []
    for growth in growths:
        kept = [a for a in growth.alerts if a.id in result.inserted]
        if kept:
            update, grown_events = _growth(grown[growth.case_id], kept, actor, policy)
            updates.append(update)
            events += grown_events
    await repository.update_cases_growth(session, tenant_id, updates)
    stored_alerts = [
        (case.id, [a for a in o.alerts if a.id in result.inserted])
        for case, o in zip(opened, openings, strict=True)
    ] + [(g.case_id, [a for a in g.alerts if a.id in result.inserted]) for g in growths]
    stored_uncased: list[tuple[uuid.UUID | None, list[NewAlert]]] = [
        (None, [a for a in uncased if a.id in result.inserted])
    ]
    alert_messages = alert_outbox_rows(source, [*stored_alerts, *stored_uncased], publish_alerts_v1)
    result.recorded = await record_events(
        session, source, events, alert_messages, opened={case.id for case in opened}
    )
    return result


async def insert_new_cases(
    session: AsyncSession,
    tenant_id: str,
    openings: Sequence[CaseOpening],
    policy: CasePolicy,
    numbers: CaseNumbers | None = None,
) -> list[Case]:
    """Insert the openings' cases. Takes the tenant's case-number lock, so every writer
    calls it before locking any case row (one lock order: no deadlocks). With `numbers`
    (alerting), the numbers come from a transaction of their own instead (casestore/
    numbers.py: no lock held here, a gap if this transaction rolls back)."""
    if not openings:
        return []
    if numbers is None:
        first, opened_at = await repository.allocate_case_numbers(session, tenant_id, len(openings))
    else:
        first = await numbers(tenant_id, len(openings))
        opened_at = await repository.transaction_time(session)
    # New cases follow the workflow in force now; they keep it when the policy changes.
    workflow = WORKFLOWS[policy.workflow]
    rows = []
    for number, opening in enumerate(openings, start=first):
        times = [a.effective_time for a in opening.alerts]
        new = opening.case
        ack_due_at, resolve_due_at = policy.due_times(opened_at, new.severity)
        rows.append(
            {
                "id": new.id or uuid.uuid4(),
                "tenant_id": tenant_id,
                "number": number,
                "continues_case_id": new.continues_case_id,
                "title": new.title,
                "description": new.description,
                "status": workflow.initial.value,
                "workflow": workflow.name.value,
                "severity": new.severity.value,
                "group_key": new.group_key,
                "host": new.host,
                "rule_id": new.rule_id,
                "assignee": new.assignee,
                "tags": normalize_tags(new.tags),
                "custom_fields": dict(new.custom_fields),
                # Callers dedup under their group locks, so normally every alert is new; the
                # count is corrected afterwards in the rare case one was not.
                "alert_count": len(opening.alerts),
                "first_event_at": min(times) if times else None,
                "last_event_at": max(times) if times else None,
                "ack_due_at": ack_due_at,
                "resolve_due_at": resolve_due_at,
            }
        )
    return await repository.insert_cases(session, rows)


def _growth(
    case: Case, kept: list[NewAlert], actor: str, policy: CasePolicy
) -> tuple[dict[str, Any], list[CaseEventV1]]:
    """The grown case's new values and events. The locked Case stays untouched: it is
    tracked by the session, and changing it would make autoflush write it once more."""
    times = [a.effective_time for a in kept]
    top = max((a.severity for a in kept), key=lambda s: s.rank)
    old = Severity(case.severity)
    severity = top if top.rank > old.rank else old
    due = (case.ack_due_at, case.resolve_due_at)
    if severity is not old and case.ack_due_at is not None:  # cases from before SLAs: none
        due = policy.due_times(case.created_at, severity)
    update = {
        "case_id": case.id,
        "alert_count": case.alert_count + len(kept),
        "severity": severity.value,
        "first_event_at": min([*times, *_present(case.first_event_at)]),
        "last_event_at": max([*times, *_present(case.last_event_at)]),
        "ack_due_at": due[0],
        "resolve_due_at": due[1],
    }
    events: list[CaseEventV1] = [
        CaseAlertAttachedV1(
            **event_base(case, actor),
            alert_ids=[a.id for a in kept],
            alert_count=update["alert_count"],
        )
    ]
    if severity is not old:
        events.append(
            CaseSeverityUpgradedV1(
                **event_base(case, actor),
                from_severity=old,
                to_severity=top,
                ack_due_at=due[0],
                resolve_due_at=due[1],
            )
        )
    return update, events


async def _index_entities(
    session: AsyncSession, tenant_id: str, stored: list[tuple[uuid.UUID, NewAlert]]
) -> None:
    """Case entity rows for stored alerts: from what the writer already knows when it says,
    else read back from each stored detection (slower: it detoasts every payload)."""
    known = {
        (value[:512], kind, case_id)
        for case_id, alert in stored
        if alert.entities is not None
        for kind, value in alert.entities
    }
    await repository.insert_case_entities(session, tenant_id, sorted(known))
    unknown = [alert.id for _, alert in stored if alert.entities is None]
    await repository.record_case_entities(session, tenant_id, sorted(unknown))


def _one_growth_per_case(growths: Sequence[CaseGrowth]) -> list[CaseGrowth]:
    """Growths of one case joined into one: each is computed from the case row as locked,
    so two would each write their own count over the other's (a case can be reached twice
    in a batch: by a chain strategy join and its key's slot, or by two slots after a merge)."""
    alerts: dict[uuid.UUID, list[NewAlert]] = {}
    for growth in growths:
        alerts.setdefault(growth.case_id, []).extend(growth.alerts)
    return [CaseGrowth(case_id, joined) for case_id, joined in alerts.items()]


def _alert_row(case_id: uuid.UUID | None, alert: NewAlert) -> dict[str, Any]:
    return {
        # Seen once so far unless the writer says otherwise.
        "last_seen": alert.columns.get("ingested_at"),
        **alert.columns,
        "id": alert.id,
        "tenant_id": alert.tenant_id,
        "case_id": case_id,
        "severity": alert.severity.value,
        "effective_time": alert.effective_time,
        "entity_keys": _entity_keys(alert),
    }


def _entity_keys(alert: NewAlert) -> list[str]:
    """The alert's keys in ix_alerts_entity_keys, "<tenant>/<type>=<folded value>": from
    the entities the writer gave, else from its detection (the Python twin of the SQL
    function casestream_alert_entity_keys, which made the keys of older alerts)."""
    host = alert.columns.get("host")
    if alert.entities is not None:
        keys = {entity_key(kind, value) for kind, value in alert.entities}
        if host:
            keys.add(entity_key("host", host))
    else:
        detection = alert.columns.get("detection")
        if isinstance(detection, str):
            detection = json.loads(detection)
        keys = set(entity_keys(detection, host))
    return [f"{alert.tenant_id}/{key}" for key in sorted(keys)]


def _present(value: datetime | None) -> list[datetime]:
    return [] if value is None else [value]
