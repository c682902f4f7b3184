"""Admin transport for the tenant's case policy: read it, replace it. Only the tenant's
admin credentials may call it, and only for their own tenant."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.engine import transaction
from libs.common.http import Principal
from services.cases import policy_service
from services.cases.schemas import CasePolicyIn, CasePolicyOut

router = APIRouter(prefix="/api/v1/admin/case-policy", tags=["admin"])


async def admin(request: Request) -> Principal:
    authenticated: Principal = await request.app.state.admin_authenticator.authenticate(request)
    return authenticated


async def unit_of_work(request: Request) -> AsyncIterator[AsyncSession]:
    async with transaction(request.app.state.sessions) as session:
        yield session


Admin = Annotated[Principal, Depends(admin)]
Session = Annotated[AsyncSession, Depends(unit_of_work, scope="function")]


@router.get("", response_model=CasePolicyOut, summary="The tenant's case policy in force")
async def read_case_policy(caller: Admin, session: Session) -> CasePolicyOut:
    return await policy_service.read_policy(session, caller)


@router.put(
    "",
    response_model=CasePolicyOut,
    summary="Replace the case policy; `version` must be the one read (409 otherwise)",
)
async def replace_case_policy(body: CasePolicyIn, caller: Admin, session: Session) -> CasePolicyOut:
    return await policy_service.replace_policy(session, caller, body)
