"""Read queries of case attachments. Every statement filters on the tenant and leaves
removed attachments out; writes go through the case store."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from libs.common.db.models import CaseAttachment


async def case_attachments(
    session: AsyncSession, tenant_id: str, case_id: uuid.UUID
) -> list[CaseAttachment]:
    statement = (
        select(CaseAttachment)
        .where(
            CaseAttachment.tenant_id == tenant_id,
            CaseAttachment.case_id == case_id,
            col(CaseAttachment.deleted_at).is_(None),
        )
        .order_by(col(CaseAttachment.created_at), col(CaseAttachment.id))
    )
    return list((await session.execute(statement)).scalars())


async def get_attachment(
    session: AsyncSession, tenant_id: str, case_id: uuid.UUID, attachment_id: uuid.UUID
) -> CaseAttachment | None:
    statement = select(CaseAttachment).where(
        CaseAttachment.tenant_id == tenant_id,
        CaseAttachment.case_id == case_id,
        CaseAttachment.id == attachment_id,
        col(CaseAttachment.deleted_at).is_(None),
    )
    return (await session.execute(statement)).scalar_one_or_none()
