"""What the case store adds to a case without changing its fields: notes, and the SLA
notices a case owes. Each runs under the case's row lock in the caller's transaction,
with one audit event and one outbox row per change (CaseStore delegates here)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.casestore import repository
from libs.common.casestore.events import event_base, record_events
from libs.common.casestore.preservation import locked_case
from libs.common.casestore.sla import due_notices
from libs.common.contracts.cases import (
    CaseEventV1,
    CaseNoteAddedV1,
    CaseSlaEventV1,
    CaseStatus,
)
from libs.common.contracts.detections import Severity
from libs.common.db.models import CaseNote


async def record_sla_notices(
    session: AsyncSession,
    source: str,
    tenant_id: str,
    case_id: uuid.UUID,
    now: datetime,
    pre_breach_ratio: float,
    actor: str,
) -> int:
    """Record the SLA notices the case owes at `now` (decided again under its row lock,
    so a concurrent acknowledgement wins); returns how many were recorded."""
    case = await locked_case(session, tenant_id, case_id, True)
    notices = due_notices(case, now, pre_breach_ratio)
    if not notices:
        return 0
    markers = [*case.sla_notices, *(n.marker for n in notices)]
    case = await repository.update_case(session, tenant_id, case_id, {"sla_notices": markers})
    events: list[CaseEventV1] = [
        CaseSlaEventV1(
            **event_base(case, actor),
            type=notice.kind,
            target=notice.target,
            due_at=notice.due_at,
            severity=Severity(case.severity),
            status=CaseStatus(case.status),
        )
        for notice in notices
    ]
    await record_events(session, source, events)
    return len(events)


async def add_note(
    session: AsyncSession,
    source: str,
    tenant_id: str,
    case_id: uuid.UUID,
    author: str,
    body: str,
    idempotency_key: str | None,
) -> tuple[CaseNote, bool]:
    """Returns the note and whether it was created now (False: an idempotent replay)."""
    case = await locked_case(session, tenant_id, case_id, False)
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
    await record_events(
        session,
        source,
        [CaseNoteAddedV1(**event_base(case, author), note_id=note.id, author=author)],
    )
    return note, True
