"""CaseStore: open cases, attach alerts, change status, add notes.

Each operation runs inside the caller's transaction (the store never commits) and writes
the change, one audit event and one outbox row per change, so no writer can skip them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.casestore import repository
from libs.common.casestore.lifecycle import INITIAL_STATUS, check_transition
from libs.common.contracts.cases import (
    CaseAlertAttachedV1,
    CaseEventV1,
    CaseNoteAddedV1,
    CaseOpenedV1,
    CaseSeverityUpgradedV1,
    CaseStatus,
    CaseStatusChangedV1,
)
from libs.common.contracts.detections import Severity
from libs.common.contracts.envelope import CloudEventAttributes
from libs.common.contracts.topics import CASE_EVENTS
from libs.common.db.models import Case, CaseNote
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


@dataclass(frozen=True)
class NewAlert:
    """An alert row as alerting builds it; the store links it to its case."""

    id: uuid.UUID
    tenant_id: str
    severity: Severity
    effective_time: datetime
    columns: dict[str, Any]


class CaseStore:
    def __init__(self, source: str) -> None:
        # CloudEvents `source` of every event this writer produces, e.g. "casestream/cases".
        self.source = source

    async def open_case(
        self, session: AsyncSession, new: NewCase, alerts: Sequence[NewAlert], actor: str
    ) -> tuple[Case, list[uuid.UUID]]:
        number = await repository.next_case_number(session, new.tenant_id)
        times = [alert.effective_time for alert in alerts]
        case = await repository.insert_case(
            session,
            {
                "id": uuid.uuid4(),
                "tenant_id": new.tenant_id,
                "number": number,
                "title": new.title,
                "description": new.description,
                "status": INITIAL_STATUS.value,
                "severity": new.severity.value,
                "group_key": new.group_key,
                "host": new.host,
                "rule_id": new.rule_id,
                # Callers dedup under their group locks, so every alert is normally new;
                # the count is corrected below in the rare case one was not.
                "alert_count": len(alerts),
                "first_event_at": min(times) if times else None,
                "last_event_at": max(times) if times else None,
            },
        )
        inserted = await repository.insert_alerts(session, _alert_rows(case.id, alerts))
        if len(inserted) != len(alerts):
            case = await repository.update_case(
                session, case.tenant_id, case.id, {"alert_count": len(inserted)}
            )
        await self._record(
            session,
            [
                CaseOpenedV1(
                    **_event_base(case, actor),
                    title=case.title,
                    severity=Severity(case.severity),
                    status=CaseStatus(case.status),
                    group_key=case.group_key,
                    alert_ids=inserted,
                )
            ],
        )
        return case, inserted

    async def attach_alerts(
        self,
        session: AsyncSession,
        tenant_id: str,
        case_id: uuid.UUID,
        alerts: Sequence[NewAlert],
        actor: str,
    ) -> list[uuid.UUID]:
        case = await self._lock(session, tenant_id, case_id)
        inserted = await repository.insert_alerts(session, _alert_rows(case.id, alerts))
        if not inserted:
            return []
        kept = [alert for alert in alerts if alert.id in set(inserted)]
        times = [alert.effective_time for alert in kept]
        top = max((alert.severity for alert in kept), key=lambda s: s.rank)
        old_severity = Severity(case.severity)
        values: dict[str, Any] = {
            "alert_count": case.alert_count + len(inserted),
            "first_event_at": min([*times, *_present(case.first_event_at)]),
            "last_event_at": max([*times, *_present(case.last_event_at)]),
        }
        if top.rank > old_severity.rank:
            values["severity"] = top.value
        case = await repository.update_case(session, tenant_id, case_id, values)
        events: list[CaseEventV1] = [
            CaseAlertAttachedV1(
                **_event_base(case, actor), alert_ids=inserted, alert_count=case.alert_count
            )
        ]
        if top.rank > old_severity.rank:
            events.append(
                CaseSeverityUpgradedV1(
                    **_event_base(case, actor), from_severity=old_severity, to_severity=top
                )
            )
        await self._record(session, events)
        return inserted

    async def change_status(
        self,
        session: AsyncSession,
        tenant_id: str,
        case_id: uuid.UUID,
        target: CaseStatus,
        actor: str,
        reason: str | None = None,
    ) -> Case:
        case = await self._lock(session, tenant_id, case_id)
        current = CaseStatus(case.status)
        check_transition(current, target)
        now = datetime.now(UTC)
        values: dict[str, Any] = {"status": target.value}
        if current is INITIAL_STATUS and case.acknowledged_at is None:
            values["acknowledged_at"] = now  # MTTA counts the first move out of triage
        if target is CaseStatus.RESOLVED:
            values["resolved_at"] = now
        if target is CaseStatus.CLOSED:
            values["closed_at"] = now
        case = await repository.update_case(session, tenant_id, case_id, values)
        await self._record(
            session,
            [
                CaseStatusChangedV1(
                    **_event_base(case, actor), from_status=current, to_status=target, reason=reason
                )
            ],
        )
        return case

    async def add_note(
        self,
        session: AsyncSession,
        tenant_id: str,
        case_id: uuid.UUID,
        author: str,
        body: str,
        idempotency_key: str | None = None,
    ) -> tuple[CaseNote, bool]:
        """Returns the note and whether it was created now (False: an idempotent replay)."""
        case = await self._lock(session, tenant_id, case_id)
        if idempotency_key is not None:
            existing = await repository.find_note_by_key(session, tenant_id, idempotency_key)
            if existing is not None:
                return existing, False
        note = await repository.insert_note(
            session,
            {
                "id": uuid.uuid4(),
                "tenant_id": tenant_id,
                "case_id": case.id,
                "author": author,
                "body": body,
                "idempotency_key": idempotency_key,
            },
        )
        assert note is not None  # the case row lock serializes writers of this key
        await repository.update_case(session, tenant_id, case_id, {})
        await self._record(
            session, [CaseNoteAddedV1(**_event_base(case, author), note_id=note.id, author=author)]
        )
        return note, True

    async def _lock(self, session: AsyncSession, tenant_id: str, case_id: uuid.UUID) -> Case:
        case = await repository.lock_case(session, tenant_id, case_id)
        if case is None:
            raise NotFound("case not found", case_id=str(case_id))
        return case

    async def _record(self, session: AsyncSession, events: Sequence[CaseEventV1]) -> None:
        audit_rows, outbox_rows = [], []
        for event in events:
            payload = event.model_dump(mode="json")
            audit_rows.append(
                {
                    "event_id": event.event_id,
                    "tenant_id": event.tenant_id,
                    "case_id": event.case_id,
                    "type": event.type,
                    "actor": event.actor,
                    "occurred_at": event.occurred_at,
                    "payload": payload,
                }
            )
            attributes = CloudEventAttributes(
                id=str(event.event_id),
                source=self.source,
                type=event.cloudevent_type,
                time=event.occurred_at,
                subject=str(event.case_id),
                tenantid=event.tenant_id,
            )
            outbox_rows.append(
                {
                    "event_id": event.event_id,
                    "tenant_id": event.tenant_id,
                    "topic": CASE_EVENTS.name,
                    "key": str(event.case_id),
                    "headers": attributes.to_headers(),
                    "payload": payload,
                }
            )
        await repository.insert_events(session, audit_rows, outbox_rows)


def _event_base(case: Case, actor: str) -> dict[str, Any]:
    return {
        "tenant_id": case.tenant_id,
        "case_id": case.id,
        "case_number": case.number,
        "actor": actor,
        "occurred_at": datetime.now(UTC),
    }


def _alert_rows(case_id: uuid.UUID, alerts: Sequence[NewAlert]) -> list[dict[str, Any]]:
    return [
        {
            **alert.columns,
            "id": alert.id,
            "tenant_id": alert.tenant_id,
            "case_id": case_id,
            "severity": alert.severity.value,
            "effective_time": alert.effective_time,
        }
        for alert in alerts
    ]


def _present(value: datetime | None) -> list[datetime]:
    return [] if value is None else [value]
