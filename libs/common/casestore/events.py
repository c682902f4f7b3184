"""Recording case events: one audit row and one outbox row per event, written together."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.casestore import repository
from libs.common.casestore.chain import event_hash
from libs.common.contracts.alerts import (
    ALERT_EVENT_TYPE,
    ALERT_V2_EVENT_TYPE,
    AlertGroupingV2,
    AlertV1,
    AlertV2,
    GroupingDecision,
)
from libs.common.contracts.cases import CaseEventV1
from libs.common.contracts.detections import RuleRefV1, Severity
from libs.common.contracts.envelope import CloudEventAttributes
from libs.common.contracts.topics import ALERTS, ALERTS_V2, CASE_EVENTS, Topic
from libs.common.db.models import Case


class NewAlertLike(Protocol):
    """What the alert topics need of an alert being stored (casestore.batch.NewAlert)."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def tenant_id(self) -> str: ...
    @property
    def severity(self) -> Severity: ...
    @property
    def effective_time(self) -> datetime: ...
    @property
    def columns(self) -> dict[str, Any]: ...


def alert_outbox_rows(
    source: str, case_id: uuid.UUID | None, alerts: Sequence[NewAlertLike]
) -> list[dict[str, Any]]:
    """Messages for alerts just stored, keyed by tenant and alert: `alerts.v2` for every
    alert, and `alerts.v1` as well for one with a case (v1 requires a case; it stays
    published for its subscribers until it is retired, docs/alert-topics.md)."""
    now = datetime.now(UTC)
    rows = []
    for alert in alerts:
        columns = alert.columns
        rule = RuleRefV1(
            id=columns["rule_id"], name=columns["rule_name"], source=columns.get("source")
        )
        if case_id is not None:
            v1 = AlertV1(
                alert_id=alert.id,
                tenant_id=alert.tenant_id,
                detection_id=columns["detection_id"],
                case_id=case_id,
                title=columns["title"],
                severity=alert.severity,
                rule=rule,
                host=columns.get("host"),
                group_key=columns["group_key"],
                effective_time=alert.effective_time,
                created_at=now,
            )
            rows.append(_alert_row(source, ALERTS, ALERT_EVENT_TYPE, alert, v1, now))
        v2 = AlertV2(
            alert_id=alert.id,
            tenant_id=alert.tenant_id,
            detection_id=columns["detection_id"],
            case_id=case_id,
            title=columns["title"],
            severity=alert.severity,
            rule=rule,
            source=columns.get("source") or source,
            host=columns.get("host"),
            group_key=columns["group_key"],
            event_time=columns.get("event_time"),
            effective_time=alert.effective_time,
            ingested_at=columns.get("ingested_at") or now,
            grouping=_grouping_v2(columns.get("grouping")),
            created_at=now,
        )
        rows.append(_alert_row(source, ALERTS_V2, ALERT_V2_EVENT_TYPE, alert, v2, now))
    return rows


def _grouping_v2(grouping: dict[str, Any] | None) -> AlertGroupingV2 | None:
    """The decision summary of the alert's provenance (policies.grouping.provenance)."""
    if not grouping or "decision" not in grouping:
        return None
    chain = grouping.get("chain") or {}
    return AlertGroupingV2(
        decision=GroupingDecision(grouping["decision"]),
        reason=str(grouping.get("reason", "")),
        strategy=str(grouping.get("strategy", "")),
        strategy_fallback=bool(grouping.get("strategy_fallback", False)),
        policy_version=int(grouping.get("policy_version", 0)),
        continues_case_id=grouping.get("continues_case_id"),
        shared_event_ids=list(chain.get("shared_event_ids", [])),
    )


def _alert_row(
    source: str,
    topic: Topic,
    event_type: str,
    alert: NewAlertLike,
    message: BaseModel,
    now: datetime,
) -> dict[str, Any]:
    attributes = CloudEventAttributes(
        source=source,
        type=event_type,
        time=now,
        subject=str(alert.id),
        tenantid=alert.tenant_id,
    )
    return {
        "event_id": uuid.UUID(attributes.id),
        "tenant_id": alert.tenant_id,
        "topic": topic.name,
        "key": f"{alert.tenant_id}:{alert.id}",
        "headers": attributes.to_headers(),
        "payload": message.model_dump(mode="json"),
    }


def event_base(case: Case, actor: str) -> dict[str, Any]:
    return {
        "tenant_id": case.tenant_id,
        "case_id": case.id,
        "case_number": case.number,
        "actor": actor,
        "occurred_at": datetime.now(UTC),
    }


def case_event_outbox_row(
    source: str, event: CaseEventV1, payload: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The `cases.events.v1` message of `event`, keyed by its case."""
    attributes = CloudEventAttributes(
        id=str(event.event_id),
        source=source,
        type=event.cloudevent_type,
        time=event.occurred_at,
        subject=str(event.case_id),
        tenantid=event.tenant_id,
    )
    return {
        "event_id": event.event_id,
        "tenant_id": event.tenant_id,
        "topic": CASE_EVENTS.name,
        "key": str(event.case_id),
        "headers": attributes.to_headers(),
        "payload": payload if payload is not None else event.model_dump(mode="json"),
    }


async def record_events(
    session: AsyncSession,
    source: str,
    events: Sequence[CaseEventV1],
    extra_outbox: Sequence[dict[str, Any]] = (),
    opened: Collection[uuid.UUID] = (),
) -> None:
    """Audit and outbox rows for `events`, plus other messages to publish with them.
    `opened`: cases inserted in this transaction, whose chains start here (no lookup)."""
    if not events:
        await repository.insert_events(session, [], list(extra_outbox))
        return
    tenant_id = events[0].tenant_id
    assert all(e.tenant_id == tenant_id for e in events), "one tenant per recording"
    existing = [e.case_id for e in events if e.case_id not in opened]
    last = await repository.last_event_hashes(session, tenant_id, existing) if existing else {}
    audit_rows, outbox_rows = [], []
    for event in events:
        payload = event.model_dump(mode="json")
        row: dict[str, Any] = {
            "event_id": event.event_id,
            "tenant_id": event.tenant_id,
            "case_id": event.case_id,
            "type": event.type,
            "actor": event.actor,
            "occurred_at": event.occurred_at,
            "payload": payload,
        }
        prev = last.get(event.case_id)
        last[event.case_id] = event_hash(prev, **row)
        audit_rows.append({**row, "prev_hash": prev, "hash": last[event.case_id]})
        outbox_rows.append(case_event_outbox_row(source, event, payload))
    await repository.insert_events(session, audit_rows, [*outbox_rows, *extra_outbox])
