"""Admin API for source credentials: issue (the key is shown once), list, revoke.

Only the tenant's admin credentials (settings) may call it, and only for their tenant."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.apikeys import store
from libs.common.db.engine import transaction
from libs.common.http import Principal

router = APIRouter(prefix="/api/v1/admin/api-keys", tags=["admin"])


class ApiKeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._-]+$")
    description: str | None = Field(default=None, max_length=1_024)


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    source: str
    description: str | None
    prefix: str
    created_by: str
    created_at: datetime
    revoked_at: datetime | None


class IssuedApiKey(ApiKeyOut):
    key: str = Field(description="Shown only in this response; store it now.")


async def admin(request: Request) -> Principal:
    authenticated: Principal = await request.app.state.admin_authenticator.authenticate(request)
    return authenticated


async def unit_of_work(request: Request) -> AsyncIterator[AsyncSession]:
    async with transaction(request.app.state.sessions) as session:
        yield session


Admin = Annotated[Principal, Depends(admin)]
Session = Annotated[AsyncSession, Depends(unit_of_work, scope="function")]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=IssuedApiKey)
async def issue_api_key(body: ApiKeyIn, caller: Admin, session: Session) -> IssuedApiKey:
    issued = await store.issue_key(
        session,
        tenant_id=caller.tenant_id,
        source=body.source,
        description=body.description,
        created_by=caller.name,
    )
    return IssuedApiKey(**ApiKeyOut.model_validate(issued.record).model_dump(), key=issued.key)


@router.get("", response_model=list[ApiKeyOut])
async def list_api_keys(caller: Admin, session: Session) -> list[ApiKeyOut]:
    return [ApiKeyOut.model_validate(k) for k in await store.list_keys(session, caller.tenant_id)]


@router.delete("/{key_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_api_key(key_id: uuid.UUID, caller: Admin, session: Session) -> Response:
    await store.revoke_key(session, caller.tenant_id, key_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
