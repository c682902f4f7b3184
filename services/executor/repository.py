"""Playbook run history: one row per (playbook, triggering event)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from libs.common.db.models import PlaybookRun


async def claim_run(
    session: AsyncSession,
    *,
    tenant_id: str,
    playbook: str,
    event_id: uuid.UUID,
    case_id: uuid.UUID,
) -> PlaybookRun | None:
    """Start a run; None if this playbook already succeeded for this event."""
    statement = (
        insert(PlaybookRun)
        .values(
            id=uuid.uuid4(),
            tenant_id=tenant_id,
            playbook=playbook,
            event_id=event_id,
            case_id=case_id,
            status="running",
        )
        .on_conflict_do_nothing(index_elements=["playbook", "event_id"])
        .returning(PlaybookRun)
    )
    run = (await session.execute(statement)).scalar_one_or_none()
    if run is not None:
        return run
    existing = (
        await session.execute(
            select(PlaybookRun).where(
                PlaybookRun.tenant_id == tenant_id,
                PlaybookRun.playbook == playbook,
                PlaybookRun.event_id == event_id,
            )
        )
    ).scalar_one()
    return None if existing.status == "succeeded" else existing


async def finish_run(
    session: AsyncSession,
    run_id: uuid.UUID,
    tenant_id: str,
    *,
    status: str,
    result: dict[str, Any] | None,
    error: str | None,
) -> None:
    await session.execute(
        update(PlaybookRun)
        .where(col(PlaybookRun.id) == run_id, col(PlaybookRun.tenant_id) == tenant_id)
        .values(status=status, result=result, error=error, finished_at=func.now())
    )
