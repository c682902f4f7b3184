"""SQL of case templates. Every statement filters on the tenant."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from libs.common.db.models import CaseTemplate as CaseTemplateRow
from services.cases.templates_schemas import CaseTemplate


async def templates(session: AsyncSession, tenant_id: str) -> list[CaseTemplate]:
    statement = (
        select(CaseTemplateRow)
        .where(col(CaseTemplateRow.tenant_id) == tenant_id)
        .order_by(col(CaseTemplateRow.name))
    )
    return [CaseTemplate.model_validate(r) for r in (await session.execute(statement)).scalars()]


async def template(session: AsyncSession, tenant_id: str, name: str) -> CaseTemplate | None:
    statement = select(CaseTemplateRow).where(
        col(CaseTemplateRow.tenant_id) == tenant_id, col(CaseTemplateRow.name) == name
    )
    row = (await session.execute(statement)).scalar_one_or_none()
    return None if row is None else CaseTemplate.model_validate(row)


async def count_and_lock(session: AsyncSession, tenant_id: str) -> int:
    """How many templates the tenant has, with its template writers serialized (a
    transaction-scoped advisory lock), so two creations cannot both pass the limit."""
    await session.execute(
        select(func.pg_advisory_xact_lock(func.hashtext("templates:" + tenant_id)))
    )
    statement = select(func.count()).where(col(CaseTemplateRow.tenant_id) == tenant_id)
    return int(await session.scalar(statement) or 0)


async def upsert_template(
    session: AsyncSession, tenant_id: str, values: dict[str, Any], actor: str
) -> CaseTemplate:
    row = {**values, "tenant_id": tenant_id, "changed_by": actor}
    statement = insert(CaseTemplateRow).values(**row)
    upsert = statement.on_conflict_do_update(
        index_elements=["tenant_id", "name"],
        set_={**{k: statement.excluded[k] for k in row}, "updated_at": func.now()},
    ).returning(CaseTemplateRow)
    return CaseTemplate.model_validate((await session.execute(upsert)).scalar_one())


async def delete_template(session: AsyncSession, tenant_id: str, name: str) -> bool:
    statement = delete(CaseTemplateRow).where(
        col(CaseTemplateRow.tenant_id) == tenant_id, col(CaseTemplateRow.name) == name
    )
    result = await session.execute(statement)
    return bool(result.rowcount)  # type: ignore[attr-defined]
