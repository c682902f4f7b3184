"""Changing a case's editable fields (title, severity, assignee, tags, custom fields, ...)
inside the caller's transaction, under the case's row lock: one audit event per field
whose value changed, and new SLA due times when the severity changes."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.casestore import repository
from libs.common.casestore.custom_values import custom_field_changes
from libs.common.casestore.events import event_base, record_events
from libs.common.casestore.fields import FIELD_EVENTS, stored_value
from libs.common.casestore.policy import load_policy
from libs.common.contracts.cases import CaseEventV1, CaseFieldChangedV1
from libs.common.contracts.detections import Severity
from libs.common.db.models import Case


async def update_fields(
    session: AsyncSession, source: str, case: Case, requested: Mapping[str, Any], actor: str
) -> Case:
    """`case` is locked by the caller; returns it as changed (unchanged: no event)."""
    values: dict[str, Any] = {}
    events: list[CaseEventV1] = []
    for field, event_type in FIELD_EVENTS.items():
        if field not in requested:
            continue
        old, new = getattr(case, field), stored_value(field, requested[field])
        if old == new:
            continue  # not a change: no event
        values[field] = new
        due = await _due_times_after(session, case, field, new)
        values.update(due)
        events.append(
            CaseFieldChangedV1(
                **event_base(case, actor),
                type=event_type,
                field=field,
                old=list(old) if isinstance(old, list) else old,
                new=new,
                **due,
            )
        )
    if "custom_fields" in requested:
        custom, custom_events = await custom_field_changes(
            session, case, requested["custom_fields"] or {}, actor
        )
        if custom_events:
            values["custom_fields"] = custom
            events += custom_events
    if not events:
        return case
    case = await repository.update_case(session, case.tenant_id, case.id, values)
    await record_events(session, source, events)
    return case


async def _due_times_after(
    session: AsyncSession, case: Case, field: str, value: Any
) -> dict[str, datetime]:
    """A severity change moves the SLA due times (cases opened before SLAs have none)."""
    if field != "severity" or case.ack_due_at is None:
        return {}
    policy = (await load_policy(session, case.tenant_id)).policy
    ack, resolve = policy.due_times(case.created_at, Severity(value))
    return {"ack_due_at": ack, "resolve_due_at": resolve}
