"""Move a case into the past, as if it had been opened `by` earlier: its creation and its
SLA due times shift together, so the SLA arithmetic holds and nobody sleeps in a test."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import text

from libs.common.db.engine import SessionFactory, transaction


async def age_case(sessions: SessionFactory, case_id: uuid.UUID, by: timedelta) -> None:
    async with transaction(sessions) as session:
        await session.execute(
            text(
                "UPDATE cases SET created_at = created_at - CAST(:by AS interval), "
                "ack_due_at = ack_due_at - CAST(:by AS interval), "
                "resolve_due_at = resolve_due_at - CAST(:by AS interval) "
                "WHERE id = :c"
            ),
            {"by": by, "c": case_id},
        )


async def age_resolution(sessions: SessionFactory, case_id: uuid.UUID, by: timedelta) -> None:
    """As if the case had been resolved `by` earlier."""
    async with transaction(sessions) as session:
        await session.execute(
            text(
                "UPDATE cases SET resolved_at = resolved_at - CAST(:by AS interval) WHERE id = :c"
            ),
            {"by": by, "c": case_id},
        )
