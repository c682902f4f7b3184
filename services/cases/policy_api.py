"""Admin transport for the tenant's case policy: read it, replace it. Only the tenant's
admin credentials may call it, and only for their own tenant."""

from __future__ import annotations

from fastapi import APIRouter

from services.cases import policy_service
from services.cases.api import Admin, Session
from services.cases.schemas import CasePolicyIn, CasePolicyOut

router = APIRouter(prefix="/api/v1/admin/case-policy", tags=["admin"])


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
