"""Recording case events: one audit row and one outbox row per event, written together."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.casestore import repository
from libs.common.casestore.chain import event_hash
from libs.common.contracts.cases import CaseEventV1
from libs.common.contracts.envelope import CloudEventAttributes
from libs.common.contracts.topics import CASE_EVENTS
from libs.common.db.models import Case


def event_base(case: Case, actor: str) -> dict[str, Any]:
    return {
        "tenant_id": case.tenant_id,
        "case_id": case.id,
        "case_number": case.number,
        "actor": actor,
        "occurred_at": datetime.now(UTC),
    }


async def record_events(session: AsyncSession, source: str, events: Sequence[CaseEventV1]) -> None:
    if not events:
        return
    tenant_id = events[0].tenant_id
    assert all(e.tenant_id == tenant_id for e in events), "one tenant per recording"
    last = await repository.last_event_hashes(session, tenant_id, [e.case_id for e in events])
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
        attributes = CloudEventAttributes(
            id=str(event.event_id),
            source=source,
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
