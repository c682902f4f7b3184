"""Admin transport for deleting and restoring cases. Only the tenant's admin credentials
may call it, and only for cases of their own tenant; an analyst's key gets 403."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from libs.common.errors import Forbidden, Unauthorized
from libs.common.http import Principal
from services.cases.api import Service, Session
from services.cases.schemas import CaseSummary

router = APIRouter(prefix="/api/v1/cases", tags=["admin"])


async def case_admin(request: Request) -> Principal:
    try:
        admin: Principal = await request.app.state.admin_authenticator.authenticate(request)
    except Unauthorized:
        # A valid analyst key is known but not allowed; anything else stays a 401.
        await request.app.state.authenticator.authenticate(request)
        raise Forbidden("only the tenant's admin may delete or restore cases") from None
    return admin


Admin = Annotated[Principal, Depends(case_admin)]
Reason = Annotated[str | None, Query(min_length=1, max_length=4_096)]


@router.delete(
    "/{case_id}",
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
    "/{case_id}/restore",
    response_model=CaseSummary,
    summary="Bring back a deleted case as it was (audited; admin only)",
)
async def restore_case(
    case_id: uuid.UUID, caller: Admin, session: Session, service: Service, reason: Reason = None
) -> CaseSummary:
    return await service.restore_case(session, caller, case_id, reason)
