"""SQL for issued API keys. Every statement filters on the tenant, except the lookup by
digest, which is how the tenant is found in the first place."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from libs.common.db.models import ApiKey


async def insert_key(session: AsyncSession, values: dict[str, Any]) -> ApiKey:
    return (await session.execute(insert(ApiKey).values(**values).returning(ApiKey))).scalar_one()


async def list_keys(session: AsyncSession, tenant_id: str) -> list[ApiKey]:
    statement = (
        select(ApiKey)
        .where(ApiKey.tenant_id == tenant_id)
        .order_by(col(ApiKey.created_at).desc(), col(ApiKey.id))
    )
    return list((await session.execute(statement)).scalars())


async def revoke_key(session: AsyncSession, tenant_id: str, key_id: uuid.UUID) -> ApiKey | None:
    statement = (
        update(ApiKey)
        .where(col(ApiKey.tenant_id) == tenant_id, col(ApiKey.id) == key_id)
        .values(revoked_at=func.coalesce(ApiKey.revoked_at, func.now()))
        .returning(ApiKey)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def active_key_by_digest(session: AsyncSession, digest: str) -> ApiKey | None:
    statement = select(ApiKey).where(ApiKey.digest == digest, col(ApiKey.revoked_at).is_(None))
    return (await session.execute(statement)).scalar_one_or_none()
