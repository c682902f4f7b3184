"""The outbox in tests: relay it to the broker in the test (instead of a relay running in
the background), and read a tenant's rows as written."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from libs.common.db.engine import SessionFactory
from libs.common.outbox import OutboxRelay
from libs.common.settings import KafkaSettings, OutboxSettings


async def drain_outbox(sessions: SessionFactory, kafka: KafkaSettings) -> None:
    """Publish every unsent outbox row (all tenants') and mark it sent, as the relay does."""
    relay = OutboxRelay(sessions, kafka, OutboxSettings(enabled=False))
    try:
        while await relay.relay_once():
            pass
    finally:
        await relay.stop()


async def outbox_rows(sessions: SessionFactory, tenant: str) -> list[Any]:
    async with sessions() as session:
        result = await session.execute(
            text(
                "SELECT topic, key, headers, payload, sent_at FROM outbox"
                " WHERE tenant_id = :t ORDER BY id"
            ),
            {"t": tenant},
        )
        return list(result.all())
