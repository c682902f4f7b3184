"""Recording case events: one audit row and one outbox row per event, written together."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.casestore import repository
from libs.common.casestore.chain import event_hash
from libs.common.contracts.alert_wire import AlertGroupingWire, AlertV2Wire, RuleRefWire, encode
from libs.common.contracts.alerts import ALERT_EVENT_TYPE, ALERT_V2_EVENT_TYPE, GroupingDecision
from libs.common.contracts.cases import CaseEventV1
from libs.common.contracts.detections import Severity
from libs.common.contracts.envelope import CloudEventAttributes, new_event_ids
from libs.common.contracts.topics import ALERTS, ALERTS_V2, CASE_EVENTS
from libs.common.db.models import Case
from libs.common.outbox_batches import BatchEntry, batch_rows


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
    source: str,
    stored: Sequence[tuple[uuid.UUID | None, Sequence[NewAlertLike]]],
    publish_v1: bool = True,
) -> list[dict[str, Any]]:
    """Messages for alerts just stored, each pair a case (or None) and its alerts, keyed
    by tenant and alert: `alerts.v2` for every alert, and `alerts.v1` as well for one with
    a case while `publish_v1` (v1 requires a case; it stays published for its subscribers
    until it is retired, docs/alert-topics.md). Encoded by msgspec (contracts/alert_wire.py)
    and written as batch rows, per tenant and topic (libs/common/outbox_batches.py)."""
    now = datetime.now(UTC)
    count = sum(len(alerts) for _, alerts in stored)
    event_ids = iter(new_event_ids(2 * count))
    # Per tenant, the entries of each topic.
    entries: dict[str, tuple[list[BatchEntry], list[BatchEntry]]] = {}
    for case_id, alerts in stored:
        for alert in alerts:
            v1, v2 = entries.setdefault(alert.tenant_id, ([], []))
            message = alert_v2_message(source, case_id, alert, now)
            key, subject = f"{alert.tenant_id}:{alert.id}", str(alert.id)
            if publish_v1 and case_id is not None:
                v1.append(BatchEntry(key, next(event_ids), subject, encode(message.as_v1())))
            v2.append(BatchEntry(key, next(event_ids), subject, encode(message)))
    rows = []
    for tenant_id, (v1, v2) in entries.items():
        v1_headers, v2_headers = _alert_headers(source, tenant_id, now)
        rows += batch_rows(tenant_id, ALERTS.name, v1_headers, v1)
        rows += batch_rows(tenant_id, ALERTS_V2.name, v2_headers, v2)
    return rows


def alert_v2_message(
    source: str, case_id: uuid.UUID | None, alert: NewAlertLike, now: datetime
) -> AlertV2Wire:
    columns = alert.columns
    return AlertV2Wire(
        schema_version=2,
        alert_id=alert.id,
        tenant_id=alert.tenant_id,
        detection_id=columns["detection_id"],
        case_id=case_id,
        title=columns["title"],
        severity=alert.severity,
        rule=RuleRefWire(columns["rule_id"], columns["rule_name"], columns.get("source")),
        host=columns.get("host"),
        group_key=columns["group_key"],
        effective_time=alert.effective_time,
        created_at=now,
        source=columns.get("source") or source,
        event_time=columns.get("event_time"),
        ingested_at=columns.get("ingested_at") or now,
        grouping=_grouping_v2(columns.get("grouping")),
    )


def _grouping_v2(grouping: dict[str, Any] | None) -> AlertGroupingWire | None:
    """The decision summary of the alert's provenance (policies.grouping.provenance)."""
    if not grouping or "decision" not in grouping:
        return None
    chain = grouping.get("chain") or {}
    continues = grouping.get("continues_case_id")
    return AlertGroupingWire(
        decision=GroupingDecision(grouping["decision"]).value,
        reason=str(grouping.get("reason", "")),
        strategy=str(grouping.get("strategy", "")),
        strategy_fallback=bool(grouping.get("strategy_fallback", False)),
        policy_version=int(grouping.get("policy_version", 0)),
        continues_case_id=uuid.UUID(str(continues)) if continues else None,
        shared_event_ids=[str(e) for e in chain.get("shared_event_ids", [])],
    )


def _alert_headers(
    source: str, tenant_id: str, now: datetime
) -> tuple[dict[str, str], dict[str, str]]:
    """The CloudEvents headers of a batch's alerts.v1 and alerts.v2 messages, but for
    their ids and subjects (each message's own, in its batch entry)."""
    v1, v2 = (
        CloudEventAttributes(
            id="", source=source, type=event_type, time=now, subject="", tenantid=tenant_id
        ).to_headers()
        for event_type in (ALERT_EVENT_TYPE, ALERT_V2_EVENT_TYPE)
    )
    return v1, v2


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
) -> list[dict[str, Any]]:
    """Audit and outbox rows for `events`, plus other messages to publish with them;
    returns the audit rows as written (a writer answering with the timeline needs no
    read-back). `opened`: cases inserted in this transaction, whose chains start here."""
    if not events:
        await repository.insert_events(session, [], list(extra_outbox))
        return []
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
    return audit_rows
