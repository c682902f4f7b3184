"""Admin transport for deleting, restoring and legally holding cases, and for the
tombstones retention leaves. Only the tenant's admin credentials may call it, and only
for cases of their own tenant; an analyst's key gets 403."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from libs.common.errors import Forbidden, Unauthorized
from libs.common.http import Principal
from services.cases.api import Service, Session
from services.cases.retention_schemas import CasePurgePage, LegalHoldIn
from services.cases.schemas import CaseSummary

router = APIRouter(prefix="/api/v1", tags=["admin"])


async def case_admin(request: Request) -> Principal:
    try:
        admin: Principal = await request.app.state.admin_authenticator.authenticate(request)
    except Unauthorized:
        # A valid analyst key is known but not allowed; anything else stays a 401.
        await request.app.state.authenticator.authenticate(request)
        raise Forbidden("only the tenant's admin may delete, restore or hold cases") from None
    return admin


Admin = Annotated[Principal, Depends(case_admin)]
Reason = Annotated[str | None, Query(min_length=1, max_length=4_096)]


@router.delete(
    "/cases/{case_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Delete a case (soft, audited; admin only): it disappears until restored",
)
async def delete_case(
    case_id: uuid.UUID, caller: Admin, session: Session, service: Service, reason: Reason = None
) -> Response:
    await service.delete_case(session, caller, case_id, reason)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/cases/{case_id}/restore",
    response_model=CaseSummary,
    summary="Bring back a deleted case as it was (audited; admin only)",
)
async def restore_case(
    case_id: uuid.UUID, caller: Admin, session: Session, service: Service, reason: Reason = None
) -> CaseSummary:
    return await service.restore_case(session, caller, case_id, reason)


@router.put(
    "/cases/{case_id}/legal-hold",
    response_model=CaseSummary,
    summary="Put a case on legal hold (audited; admin only): it cannot be deleted or purged",
)
async def set_legal_hold(
    case_id: uuid.UUID, body: LegalHoldIn, caller: Admin, session: Session, service: Service
) -> CaseSummary:
    return await service.set_legal_hold(session, caller, case_id, body.reason)


@router.delete(
    "/cases/{case_id}/legal-hold",
    response_model=CaseSummary,
    summary="Release a case's legal hold (audited; admin only); `reason` is required",
)
async def release_legal_hold(
    case_id: uuid.UUID,
    caller: Admin,
    session: Session,
    service: Service,
    reason: Annotated[str, Query(min_length=1, max_length=4_096)],
) -> CaseSummary:
    return await service.release_legal_hold(session, caller, case_id, reason)


@router.get(
    "/admin/case-purges",
    response_model=CasePurgePage,
    summary="Tombstones of the cases retention purged, newest first (admin only)",
)
async def list_case_purges(
    caller: Admin,
    session: Session,
    service: Service,
    before: Annotated[datetime | None, Query(description="purged before (exclusive)")] = None,
    number: Annotated[int | None, Query(ge=1, description="the purged case's number")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> CasePurgePage:
    return await service.list_purges(session, caller, before=before, number=number, limit=limit)
