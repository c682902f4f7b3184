"""Read queries of the cases API. Every statement filters on the tenant."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer
from sqlmodel import col, select

from libs.common.db.models import Alert, Case, CaseEvent, CaseNote


async def list_cases(
    session: AsyncSession,
    tenant_id: str,
    *,
    statuses: Sequence[str],
    severities: Sequence[str],
    classifications: Sequence[str],
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[Case]:
    statement = select(Case).where(Case.tenant_id == tenant_id)
    if statuses:
        statement = statement.where(col(Case.status).in_(statuses))
    if severities:
        statement = statement.where(col(Case.severity).in_(severities))
    if classifications:
        statement = statement.where(col(Case.classification).in_(classifications))
    if after is not None:
        statement = statement.where(
            tuple_(col(Case.created_at), col(Case.id)) < tuple_(after[0], after[1])
        )
    statement = statement.order_by(col(Case.created_at).desc(), col(Case.id).desc()).limit(limit)
    return list((await session.execute(statement)).scalars())


async def get_case(session: AsyncSession, tenant_id: str, case_id: uuid.UUID) -> Case | None:
    statement = select(Case).where(Case.tenant_id == tenant_id, Case.id == case_id)
    return (await session.execute(statement)).scalar_one_or_none()


async def case_alerts(
    session: AsyncSession, tenant_id: str, case_id: uuid.UUID, limit: int
) -> list[Alert]:
    # The stored detection document stays out: lists never carry raw payloads.
    statement = (
        select(Alert)
        .options(defer(Alert.detection))  # type: ignore[arg-type]
        .where(Alert.tenant_id == tenant_id, Alert.case_id == case_id)
        .order_by(Alert.effective_time, Alert.id)  # type: ignore[arg-type]
        .limit(limit)
    )
    return list((await session.execute(statement)).scalars())


async def get_alert(session: AsyncSession, tenant_id: str, alert_id: uuid.UUID) -> Alert | None:
    statement = (
        select(Alert)
        .options(defer(Alert.detection))  # type: ignore[arg-type]
        .where(Alert.tenant_id == tenant_id, Alert.id == alert_id)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def case_timeline(
    session: AsyncSession, tenant_id: str, case_id: uuid.UUID
) -> list[CaseEvent]:
    statement = (
        select(CaseEvent)
        .where(CaseEvent.tenant_id == tenant_id, CaseEvent.case_id == case_id)
        .order_by(CaseEvent.seq)  # type: ignore[arg-type]
    )
    return list((await session.execute(statement)).scalars())


async def case_notes(session: AsyncSession, tenant_id: str, case_id: uuid.UUID) -> list[CaseNote]:
    statement = (
        select(CaseNote)
        .where(CaseNote.tenant_id == tenant_id, CaseNote.case_id == case_id)
        .order_by(CaseNote.created_at, CaseNote.id)  # type: ignore[arg-type]
    )
    return list((await session.execute(statement)).scalars())
