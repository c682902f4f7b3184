"""The webhook delivery log. One row per (event, URL): replays find it and skip."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from libs.common.db.models import WebhookDelivery


async def delivered_urls(session: AsyncSession, tenant_id: str, event_id: uuid.UUID) -> set[str]:
    statement = select(WebhookDelivery.url).where(
        WebhookDelivery.tenant_id == tenant_id,
        WebhookDelivery.event_id == event_id,
        WebhookDelivery.status == "delivered",
    )
    return set((await session.execute(statement)).scalars())


async def record_delivery(
    session: AsyncSession,
    *,
    tenant_id: str,
    event_id: uuid.UUID,
    event_type: str,
    url: str,
    status: str,
    attempts: int,
    response_status: int | None,
    error: str | None,
    delivered_at: datetime | None,
) -> None:
    values = {
        "tenant_id": tenant_id,
        "event_id": event_id,
        "event_type": event_type,
        "url": url,
        "status": status,
        "attempts": attempts,
        "response_status": response_status,
        "error": error,
        "delivered_at": delivered_at,
    }
    statement = insert(WebhookDelivery).values(id=uuid.uuid4(), **values)
    statement = statement.on_conflict_do_update(
        index_elements=["event_id", "url"],
        set_={key: statement.excluded[key] for key in values if key not in ("event_id", "url")},
    )
    await session.execute(statement)
