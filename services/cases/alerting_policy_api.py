"""Admin API for a tenant's alerting policy: read the one in force, store a new version,
list earlier versions. Only the tenant's admin credentials may call it, for their tenant.

A stored version applies to the next batch alerting processes; every alert records the
version that grouped it (`GET /api/v1/alerts/{id}/why`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import BaseModel

from libs.common.policies.alerting import AlertingPolicy
from libs.common.policies.repository import (
    PolicyVersion,
    append_policy,
    current_policy,
    policy_history,
)
from services.cases.api import Admin, Session

router = APIRouter(prefix="/api/v1/admin/alerting-policy", tags=["admin"])


class PolicyOut(BaseModel):
    version: int
    policy: AlertingPolicy
    # Both null for version 0, the built-in default.
    created_at: datetime | None
    created_by: str | None


def _out(version: PolicyVersion) -> PolicyOut:
    return PolicyOut(
        version=version.version,
        policy=version.policy,
        created_at=version.created_at,
        created_by=version.created_by,
    )


@router.get("", response_model=PolicyOut, summary="The alerting policy in force")
async def get_policy(caller: Admin, session: Session) -> PolicyOut:
    return _out(await current_policy(session, caller.tenant_id))


@router.put(
    "",
    response_model=PolicyOut,
    status_code=status.HTTP_201_CREATED,
    summary="Store a new version of the alerting policy",
)
async def put_policy(body: AlertingPolicy, caller: Admin, session: Session) -> PolicyOut:
    return _out(await append_policy(session, caller.tenant_id, body, caller.name))


@router.get("/versions", response_model=list[PolicyOut], summary="Stored versions, newest first")
async def list_versions(
    caller: Admin, session: Session, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> list[PolicyOut]:
    return [_out(v) for v in await policy_history(session, caller.tenant_id, limit)]
