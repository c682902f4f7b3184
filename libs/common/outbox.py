"""The outbox relay: publishes committed case events to Kafka and marks them sent.

Only one relay publishes at a time (a transaction-scoped advisory lock), so events of a
case leave in the order they were written even with several service instances; the
others stay idle until the leader's transaction ends. Rows are claimed with
FOR UPDATE SKIP LOCKED, published with acks=all, and marked sent in the same transaction,
so a crash between publish and mark re-publishes (at least once; consumers dedup)."""

from __future__ import annotations

import asyncio
import contextlib
import json

from faststream.kafka import KafkaBroker
from sqlalchemy import text

from libs.common.background import BackgroundLoop
from libs.common.db.engine import SessionFactory, transaction
from libs.common.logging import get_logger
from libs.common.settings import OutboxSettings

log = get_logger(__name__)

RELAY_LOCK_KEY = 0x6F7574626F78  # "outbox"

CLAIM = text(
    "SELECT id, topic, key, headers, payload FROM outbox WHERE sent_at IS NULL "
    "ORDER BY id LIMIT :limit FOR UPDATE SKIP LOCKED"
)
MARK_SENT = text("UPDATE outbox SET sent_at = now() WHERE id = ANY(:ids)")


class OutboxRelay:
    def __init__(self, sessions: SessionFactory, broker: KafkaBroker, settings: OutboxSettings):
        self._sessions = sessions
        self._broker = broker
        self._settings = settings
        self._loop = BackgroundLoop("outbox-relay", self.run)
        self._wake = asyncio.Event()

    async def relay_once(self) -> int:
        """Publish one batch of pending rows; returns how many were sent."""
        async with transaction(self._sessions) as session:
            leader = await session.scalar(
                text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": RELAY_LOCK_KEY}
            )
            if not leader:
                return 0
            rows = (await session.execute(CLAIM, {"limit": self._settings.batch_size})).all()
            if not rows:
                return 0
            futures = [
                await self._broker.publish(
                    json.dumps(row.payload, separators=(",", ":")).encode(),
                    row.topic,
                    key=row.key.encode(),
                    headers=row.headers,
                    no_confirm=True,
                )
                for row in rows
            ]
            await asyncio.gather(*futures)
            await session.execute(MARK_SENT, {"ids": [row.id for row in rows]})
        log.debug("outbox.relayed", count=len(rows))
        return len(rows)

    def notify(self) -> None:
        """Called after a commit that wrote outbox rows: relay now rather than at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        interval = self._settings.poll_interval_ms / 1000
        while True:
            try:
                sent = await self.relay_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                # Kafka or Postgres down: rows stay in the outbox; try again shortly.
                log.exception("outbox.relay_failed")
                sent = 0
                await asyncio.sleep(min(1.0, interval * 10))
            if sent < self._settings.batch_size:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=interval)
                self._wake.clear()

    def start(self) -> None:
        if self._settings.enabled:
            self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
