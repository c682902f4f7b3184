"""SQL of custom field definitions. Every statement filters on the tenant."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from libs.common.casestore.custom_fields import CustomFieldDef
from libs.common.db.models import CustomFieldDefinition


async def definitions(session: AsyncSession, tenant_id: str) -> list[CustomFieldDef]:
    statement = (
        select(CustomFieldDefinition)
        .where(col(CustomFieldDefinition.tenant_id) == tenant_id)
        .order_by(col(CustomFieldDefinition.key))
    )
    rows = (await session.execute(statement)).scalars()
    return [CustomFieldDef.model_validate(row) for row in rows]


async def lock_tenant_definitions(session: AsyncSession, tenant_id: str) -> None:
    """Serialize definition writers of one tenant, so two concurrent creations cannot both
    pass the per-tenant limit (a transaction-scoped advisory lock)."""
    await session.execute(
        select(func.pg_advisory_xact_lock(func.hashtext("custom_fields:" + tenant_id)))
    )


async def upsert_definition(
    session: AsyncSession, tenant_id: str, values: dict[str, Any], actor: str
) -> CustomFieldDef:
    row = {**values, "tenant_id": tenant_id, "changed_by": actor}
    statement = insert(CustomFieldDefinition).values(**row)
    upsert = statement.on_conflict_do_update(
        index_elements=["tenant_id", "key"],
        set_={**{k: statement.excluded[k] for k in row}, "updated_at": func.now()},
    ).returning(CustomFieldDefinition)
    stored = (await session.execute(upsert)).scalar_one()
    return CustomFieldDef.model_validate(stored)


async def delete_definition(session: AsyncSession, tenant_id: str, key: str) -> bool:
    statement = delete(CustomFieldDefinition).where(
        col(CustomFieldDefinition.tenant_id) == tenant_id,
        col(CustomFieldDefinition.key) == key,
    )
    result = await session.execute(statement)
    return bool(result.rowcount)  # type: ignore[attr-defined]
