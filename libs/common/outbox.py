"""The outbox relay: publishes committed case events (and the alert topics' messages) to
Kafka and marks them sent.

- One leader: only the relay holding a transaction-scoped advisory lock publishes, so
  with several service instances the events of a case still leave in the order they were
  written; the others stay idle until the leader's transaction ends.
- Rows are claimed in id order with FOR UPDATE SKIP LOCKED, up to `batch_size` messages
  a round (a batch row of the alert topics carries up to 500, `outbox_batches`), and
  published as record batches, one `send_batch` per (topic, partition)
  (`record_batches.publish_keyed`), each message on the partition a keyed `send` would
  choose: the messages of a key keep their order.
- Rows are deleted (by default) or marked sent in the claiming transaction, which
  commits only after the broker acknowledged every one of them (acks=all). If any
  publish fails, the transaction rolls back, the rows stay unsent and the next round
  publishes them all again. A crash before the commit also re-publishes: delivery is at
  least once, and consumers dedup by event id.
- Deleting as they are claimed is the cheap way (about half the server CPU of marking
  a row sent). With `keep_sent_seconds` above 0, sent rows are kept that long for inspection and
  then deleted from the head of the table (the lowest ids: the oldest rows) in bounded
  rounds, so the outbox does not grow with every alert ever published. An unsent row is
  never deleted.
- The relay has its own producer (connected on first use, so a broker that is down at
  start only delays the events) and writes the headers FastStream's `publish` wrote when
  the relay used it: consumers see no difference."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.background import BackgroundLoop
from libs.common.contracts.envelope import new_event_ids
from libs.common.db.engine import SessionFactory, transaction
from libs.common.kafka import create_producer
from libs.common.logging import get_logger
from libs.common.outbox_batches import decode_entries
from libs.common.record_batches import Headers, KeyedRecord, publish_keyed
from libs.common.settings import KafkaSettings, OutboxSettings

log = get_logger(__name__)

RELAY_LOCK_KEY = 0x6F7574626F78  # "outbox"

# The next unsent rows in id order, up to :limit messages (a batch row counts its
# messages; the first row is always taken, whatever its size), then locked: only the
# rows claimed, not every row the count looked at (a window may not lock, and locking
# 500 rows to claim one batch row wrote 500 tuple locks a round).
CLAIMED_IDS = (
    "SELECT id FROM outbox WHERE id = ANY(ARRAY("
    "SELECT id FROM (SELECT id,"
    " sum(coalesce(batch_messages, 1)) OVER (ORDER BY id) - coalesce(batch_messages, 1)"
    "  AS before FROM (SELECT id, batch_messages FROM outbox WHERE sent_at IS NULL"
    "  ORDER BY id LIMIT :limit) AS head) AS counted"
    " WHERE before < :limit)) FOR UPDATE SKIP LOCKED"
)
# The payload as Postgres prints it: the message body without a round trip through
# Python objects (decoding and re-encoding it was a tenth of alerting's CPU).
ROW_COLUMNS = "id, topic, key, headers, payload::text AS payload, batch_messages"
CLAIM = text(
    f"SELECT {ROW_COLUMNS} FROM outbox WHERE id = ANY(ARRAY({CLAIMED_IDS})) ORDER BY id"  # noqa: S608 - constants
)
# The same rows, deleted as they are claimed; RETURNING gives no order, so the caller
# sorts by id. The ids are claimed once, as an array (an InitPlan).
CLAIM_AND_DELETE = text(
    f"DELETE FROM outbox WHERE id = ANY(ARRAY({CLAIMED_IDS})) RETURNING {ROW_COLUMNS}"  # noqa: S608 - constants
)
MARK_SENT = text("UPDATE outbox SET sent_at = now() WHERE id = ANY(:ids)")
# Looks only at the first :scan rows by id (an index range, whatever the table's size);
# sent rows are at the head unless the relay is behind, and then there is nothing to do.
PRUNE_SENT = text(
    "DELETE FROM outbox WHERE id = ANY(ARRAY(SELECT id FROM (SELECT id, sent_at FROM outbox"
    " ORDER BY id LIMIT :scan) AS head"
    " WHERE sent_at < now() - make_interval(secs => :keep)))"
)
# The outbox is a queue: from empty to a backlog of thousands and back within seconds, so
# its statistics are always stale. Planned from statistics taken while it was nearly
# empty, the claim ran once per unsent row (a nested loop: 1.6 s for 2,000 rows, and the
# relay never caught up again), or read every unsent row to sort them. The relay's
# transactions therefore plan with index scans only: the next rows in id order from
# ix_outbox_unsent, then each by primary key.
INDEX_SCANS_ONLY = (
    "set_config('enable_seqscan', 'off', true), set_config('enable_bitmapscan', 'off', true)"
)
LEAD = text(f"SELECT pg_try_advisory_xact_lock(:key), {INDEX_SCANS_ONLY}")
PRUNE_SCAN_ROWS = 10_000
PRUNE_MAX_ROUNDS = 20


def _row_id(row: Any) -> int:
    return int(row.id)


class OutboxNotPublished(Exception):
    """The broker did not acknowledge every message of the claimed rows; no row is deleted
    or marked sent."""


def wire_headers(headers: dict[str, str], correlation_id: str) -> Headers:
    """A row's headers as FastStream's `publish(headers=...)` sent them: its content-type
    slot first (the row's own value), the correlation_id, then the row's headers."""
    merged = {"content-type": "", "correlation_id": correlation_id, **headers}
    return [(name, (value or "").encode()) for name, value in merged.items()]


def correlation_of(headers: dict[str, str]) -> str:
    """A message's correlation_id: its CloudEvents id (unique per message, and the same
    when a failed round publishes it again), or a fresh id for a row without one.
    FastStream's `publish` made a fresh one each time; drawing one per message was 8 %
    of the relay's CPU (py-spy, session 13)."""
    return headers.get("ce_id") or new_event_ids(1)[0]


def batch_row_records(row: Any) -> list[KeyedRecord]:
    """A batch row's messages as Kafka records: what `wire_headers` makes of each
    message's headers (`outbox_batches.row_messages`), with the row's share encoded once
    and each message's correlation_id and ce_id (its id), and ce_subject put in their
    places."""
    template = wire_headers({**row.headers, "ce_id": "", "ce_subject": ""}, "")
    slot = {name: at for at, (name, _) in enumerate(template)}
    correlation_at, id_at, subject_at = slot["correlation_id"], slot["ce_id"], slot["ce_subject"]
    records = []
    for entry in decode_entries(row.payload):
        headers = template.copy()
        message_id = entry.id.encode()
        headers[correlation_at] = ("correlation_id", message_id)
        headers[id_at] = ("ce_id", message_id)
        headers[subject_at] = ("ce_subject", entry.subject.encode())
        records.append(KeyedRecord(entry.key.encode(), bytes(entry.message), headers))
    return records


def outgoing_by_topic(rows: Sequence[Any]) -> dict[str, list[KeyedRecord]]:
    """The claimed rows' messages (a batch row's each, outbox_batches) per topic, in
    claim order."""
    by_topic: dict[str, list[KeyedRecord]] = {}
    for row in rows:
        records = by_topic.setdefault(row.topic, [])
        if row.batch_messages is not None:
            records += batch_row_records(row)
        else:
            headers = wire_headers(row.headers, correlation_of(row.headers))
            records.append(KeyedRecord(row.key.encode(), row.payload.encode(), headers))
    return by_topic


class OutboxRelay:
    def __init__(
        self, sessions: SessionFactory, kafka: KafkaSettings, settings: OutboxSettings
    ) -> None:
        self._sessions = sessions
        self._kafka = kafka
        self._settings = settings
        self._producer: AIOKafkaProducer | None = None
        self._loop = BackgroundLoop("outbox-relay", self.run)
        self._wake = asyncio.Event()

    async def relay_once(self) -> int:
        """Publish one round of pending rows; returns how many messages were sent."""
        producer = await self._connected()
        async with transaction(self._sessions) as session:
            leader = await session.scalar(LEAD, {"key": RELAY_LOCK_KEY})
            if not leader:
                return 0
            rows = await self._claim(session)
            if not rows:
                return 0
            outgoing = outgoing_by_topic(rows)
            outcomes = await asyncio.gather(
                *(publish_keyed(producer, topic, records) for topic, records in outgoing.items())
            )
            errors = [e for per_topic in outcomes for e in per_topic if e is not None]
            sent = sum(len(records) for records in outgoing.values())
            if errors:
                raise OutboxNotPublished(f"{len(errors)} of {sent} messages") from errors[0]
            if self._keeps_sent:
                await session.execute(MARK_SENT, {"ids": [row.id for row in rows]})
        log.debug("outbox.relayed", rows=len(rows), messages=sent)
        return sent

    @property
    def _keeps_sent(self) -> bool:
        return self._settings.keep_sent_seconds > 0

    async def _claim(self, session: AsyncSession) -> list[Any]:
        """The next unsent rows in id order, locked (and deleted, unless sent rows are
        kept) until the transaction ends."""
        limit = {"limit": self._settings.batch_size}
        if self._keeps_sent:
            return list((await session.execute(CLAIM, limit)).all())
        return sorted((await session.execute(CLAIM_AND_DELETE, limit)).all(), key=_row_id)

    async def _connected(self) -> AIOKafkaProducer:
        if self._producer is None:
            # Created here, not in __init__: aiokafka binds a producer to the running loop.
            producer = create_producer(self._kafka, client_id="outbox-relay")
            try:
                await producer.start()
            except BaseException:
                await producer.stop()
                raise
            self._producer = producer
        return self._producer

    async def prune_sent(self) -> int:
        """Delete sent rows older than keep_sent_seconds; returns how many."""
        deleted = 0
        for _ in range(PRUNE_MAX_ROUNDS):  # bounded: the next check goes on
            async with transaction(self._sessions) as session:
                await session.execute(text(f"SELECT {INDEX_SCANS_ONLY}"))
                result = await session.execute(
                    PRUNE_SENT,
                    {"scan": PRUNE_SCAN_ROWS, "keep": float(self._settings.keep_sent_seconds)},
                )
            count = int(result.rowcount)  # type: ignore[attr-defined]
            deleted += count
            if count < PRUNE_SCAN_ROWS:
                break
        if deleted:
            log.info("outbox.pruned", count=deleted)
        return deleted

    def notify(self) -> None:
        """Called after a commit that wrote outbox rows: relay now rather than at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        interval = self._settings.poll_interval_ms / 1000
        next_prune = time.monotonic()
        while True:
            try:
                sent = await self.relay_once()
                # Also when sent rows are not kept: rows marked sent before that was
                # the setting go too.
                if time.monotonic() >= next_prune:
                    next_prune = time.monotonic() + self._settings.prune_interval_seconds
                    await self.prune_sent()
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
        """Stop relaying and close the producer (also after `relay_once` calls alone)."""
        await self._loop.stop()
        if self._producer is not None:
            producer, self._producer = self._producer, None
            await producer.stop()
