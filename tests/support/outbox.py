"""Relay the outbox to the broker in the test, instead of a relay running in the background."""

from __future__ import annotations

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
