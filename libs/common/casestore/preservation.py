"""What may remove a case and what keeps it: soft delete and restore, and legal hold.

A case on legal hold cannot be deleted here, and the database refuses deleting its row
or its audit events (migration 0018), so retention cannot purge it either. Each change is
one audit event and one outbox row, inside the caller's transaction."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.casestore import repository
from libs.common.casestore.events import event_base, record_events
from libs.common.contracts.cases import (
    CaseDeletedV1,
    CaseLegalHoldReleasedV1,
    CaseLegalHoldSetV1,
    CaseRestoredV1,
    CaseStatus,
)
from libs.common.db.models import Case
from libs.common.errors import Conflict, LegalHoldActive, NotFound, NotOnLegalHold


async def locked_case(
    session: AsyncSession, tenant_id: str, case_id: uuid.UUID, deleted: bool = False
) -> Case:
    """The case under its row lock; a deleted case is not found unless `deleted`."""
    case = await repository.lock_case(session, tenant_id, case_id)
    if case is None or (case.deleted_at is not None and not deleted):
        raise NotFound("case not found", case_id=str(case_id))
    return case


async def delete_case(
    session: AsyncSession,
    source: str,
    tenant_id: str,
    case_id: uuid.UUID,
    actor: str,
    reason: str | None,
) -> Case:
    case = await locked_case(session, tenant_id, case_id)
    if case.legal_hold_since is not None:
        raise LegalHoldActive(
            f"case #{case.number} is on legal hold; release the hold before deleting it",
            case_id=str(case_id),
            legal_hold_since=case.legal_hold_since.isoformat(),
        )
    case = await repository.update_case(
        session, tenant_id, case_id, {"deleted_at": func.now(), "deleted_by": actor}
    )
    event = CaseDeletedV1(**event_base(case, actor), status=CaseStatus(case.status), reason=reason)
    await record_events(session, source, [event])
    return case


async def restore_case(
    session: AsyncSession,
    source: str,
    tenant_id: str,
    case_id: uuid.UUID,
    actor: str,
    reason: str | None,
) -> Case:
    case = await locked_case(session, tenant_id, case_id, deleted=True)
    if case.deleted_at is None:
        raise Conflict("case is not deleted", case_id=str(case_id))
    case = await repository.update_case(
        session, tenant_id, case_id, {"deleted_at": None, "deleted_by": None}
    )
    event = CaseRestoredV1(**event_base(case, actor), status=CaseStatus(case.status), reason=reason)
    await record_events(session, source, [event])
    return case


async def set_legal_hold(
    session: AsyncSession,
    source: str,
    tenant_id: str,
    case_id: uuid.UUID,
    actor: str,
    reason: str,
) -> Case:
    """Hold the case; on a held case, a new reason replaces the old one (the hold keeps
    its start). The same reason again changes nothing and records nothing."""
    case = await locked_case(session, tenant_id, case_id)
    previous = case.legal_hold_reason
    if case.legal_hold_since is not None and previous == reason:
        return case
    values: dict[str, Any] = {"legal_hold_reason": reason, "legal_hold_by": actor}
    if case.legal_hold_since is None:
        values["legal_hold_since"] = func.now()
    case = await repository.update_case(session, tenant_id, case_id, values)
    assert case.legal_hold_since is not None
    event = CaseLegalHoldSetV1(
        **event_base(case, actor),
        reason=reason,
        since=case.legal_hold_since,
        previous_reason=previous,
    )
    await record_events(session, source, [event])
    return case


async def release_legal_hold(
    session: AsyncSession,
    source: str,
    tenant_id: str,
    case_id: uuid.UUID,
    actor: str,
    reason: str,
) -> Case:
    case = await locked_case(session, tenant_id, case_id)
    if case.legal_hold_since is None or case.legal_hold_reason is None:
        raise NotOnLegalHold(f"case #{case.number} is not on legal hold", case_id=str(case_id))
    held_since, held_reason = case.legal_hold_since, case.legal_hold_reason
    case = await repository.update_case(
        session,
        tenant_id,
        case_id,
        {"legal_hold_since": None, "legal_hold_by": None, "legal_hold_reason": None},
    )
    event = CaseLegalHoldReleasedV1(
        **event_base(case, actor), reason=reason, held_since=held_since, held_reason=held_reason
    )
    await record_events(session, source, [event])
    return case
