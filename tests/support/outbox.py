"""The outbox in tests: relay it to the broker in the test (instead of a relay running in
the background), and read a tenant's rows as written, or the messages they carry."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import text

from libs.common.db.engine import SessionFactory
from libs.common.outbox import OutboxRelay
from libs.common.outbox_batches import row_messages
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


async def outbox_rows(sessions: SessionFactory, tenant: str, as_text: bool = False) -> list[Any]:
    """A tenant's rows as written, in id order; the payload decoded, or as text."""
    payload = "payload::text" if as_text else "payload"
    async with sessions() as session:
        result = await session.execute(
            text(
                f"SELECT topic, key, headers, {payload} AS payload, sent_at, batch_messages"  # noqa: S608 - constants
                " FROM outbox WHERE tenant_id = :t ORDER BY id"
            ),
            {"t": tenant},
        )
        return list(result.all())


class Message(NamedTuple):
    topic: str
    key: str
    headers: dict[str, str]
    payload: Any  # decoded
    sent_at: datetime | None


async def outbox_messages(sessions: SessionFactory, tenant: str) -> list[Message]:
    """The messages of a tenant's outbox rows (a batch row's each, expanded as the relay
    does), in the order the relay publishes them."""
    return [
        Message(m.topic, m.key, m.headers, json.loads(m.payload), row.sent_at)
        for row in await outbox_rows(sessions, tenant, as_text=True)
        for m in row_messages(row.topic, row.key, row.headers, row.payload, row.batch_messages)
    ]
