"""The outbox in tests: relay it to the broker in the test (instead of a relay running in
the background), and read a tenant's rows as written."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from libs.common.db.engine import SessionFactory
from libs.common.outbox import OutboxRelay
from libs.common.settings import KafkaSettings, OutboxSettings


async def drain_outbox(
    sessions: SessionFactory, kafka: KafkaSettings, keep_sent_seconds: int = 0
) -> None:
    """Publish every unsent outbox row (all tenants'), as the relay does: deleted once
    sent, or marked sent and kept while `keep_sent_seconds`."""
    settings = OutboxSettings(enabled=False, keep_sent_seconds=keep_sent_seconds)
    relay = OutboxRelay(sessions, kafka, settings)
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
