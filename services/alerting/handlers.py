"""Kafka transport for alerting: decode a partition's batch, dead-letter what cannot be
read, hand the rest to the grouping service in one transaction; the partition's worker
(services.alerting.partitions) then commits its offsets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer
from faststream.kafka import KafkaBroker
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError

from libs.common.contracts.detections import DetectionV1
from libs.common.contracts.envelope import decode_headers
from libs.common.contracts.topics import DETECTIONS
from libs.common.db.engine import SessionFactory, transaction
from libs.common.kafka import create_consumer, dead_letter_record
from libs.common.logging import get_logger
from libs.common.outbox import OutboxRelay
from libs.common.settings import KafkaSettings
from services.alerting.partitions import PartitionWorkers
from services.alerting.service import BatchOutcome, GroupingService
from services.alerting.settings import AlertingSection

log = get_logger(__name__)
RETRY_PAUSE_SECONDS = 1.0


Decoded = list[tuple[Any, DetectionV1]]  # (Kafka record, its detection)


async def decode_batch(broker: KafkaBroker, records: Sequence[Any]) -> Decoded:
    decoded: Decoded = []
    for record in records:
        headers = decode_headers(record.headers)
        try:
            detection = DetectionV1.from_wire(record.value or b"")
            claimed = headers.get("ce_tenantid")
            if claimed is not None and claimed != detection.tenant_id:
                raise ValueError(f"tenant header {claimed!r} does not match the payload")
        except (ValidationError, ValueError) as error:
            await dead_letter_record(broker, record, str(error))
            continue
        decoded.append((record, detection))
    return decoded


def refused_as_data(error: DBAPIError) -> bool:
    """Postgres refused this row's content (SQLSTATE classes 22 data exception and 23
    integrity violation), as opposed to being unreachable or overloaded."""
    sqlstate = str(getattr(error.orig, "sqlstate", "") or "")
    return sqlstate[:2] in ("22", "23")


async def process_one_by_one(
    broker: KafkaBroker, sessions: SessionFactory, grouping: GroupingService, decoded: Decoded
) -> BatchOutcome:
    """After a failed batch: each detection in its own transaction, so one that Postgres
    refuses goes to the DLQ instead of blocking its partition. Any other failure (the
    database is down) propagates, and the whole batch is read again later."""
    total = BatchOutcome()
    for record, detection in decoded:
        try:
            async with transaction(sessions) as session:
                outcome = await grouping.process(session, [detection])
        except DBAPIError as error:
            if not refused_as_data(error):
                raise
            await dead_letter_record(broker, record, f"refused by the database: {error.orig}")
            continue
        total.add(outcome)
    return total


class DetectionBatches:
    """Handles one partition's batch of `detections.v1` records: decode, dead-letter what
    cannot be read, process the rest in one transaction. Returns True once the batch is
    committed (its offsets may be), False when it is to be read again."""

    def __init__(
        self,
        broker: KafkaBroker,
        sessions: SessionFactory,
        grouping: GroupingService,
        relay: OutboxRelay,
    ) -> None:
        self._broker = broker
        self._sessions = sessions
        self._grouping = grouping
        self._relay = relay

    async def __call__(self, records: list[Any]) -> bool:
        with structlog.contextvars.bound_contextvars(
            topic=DETECTIONS.name,
            partition=records[0].partition,
            first_offset=records[0].offset,
            last_offset=records[-1].offset,
        ):
            try:
                outcome = await self._process(records)
            except Exception:
                log.exception("alerting.batch_failed", size=len(records))
                return False
            self._relay.notify()
            log.info(
                "alerting.batch_processed",
                size=len(records),
                stored=outcome.stored,
                duplicates=outcome.duplicates,
                repeats=outcome.repeats,
                opened=outcome.cases_opened,
            )
            return True

    async def _process(self, records: list[Any]) -> BatchOutcome:
        decoded = await decode_batch(self._broker, records)
        try:
            async with transaction(self._sessions) as session:
                return await self._grouping.process(session, [d for _, d in decoded])
        except DBAPIError:
            log.warning("alerting.batch_refused", size=len(records), exc_info=True)
            return await process_one_by_one(self._broker, self._sessions, self._grouping, decoded)


class DetectionsConsumer:
    """The group member that feeds one worker per assigned partition (services.alerting.
    partitions): offsets committed by hand after each batch's transaction, earliest
    offset first."""

    def __init__(
        self, kafka: KafkaSettings, settings: AlertingSection, handle: DetectionBatches
    ) -> None:
        self._kafka = kafka
        self._settings = settings
        self._handle = handle
        self._running: tuple[AIOKafkaConsumer, PartitionWorkers] | None = None

    async def start(self) -> None:
        # Created here: aiokafka binds a consumer to the running loop.
        consumer = create_consumer(
            self._kafka,
            client_id="alerting",
            group_id=self._settings.consumer_group,
            max_partition_fetch_bytes=self._settings.fetch_partition_bytes,
        )
        workers = PartitionWorkers(
            consumer,
            self._handle,
            max_records=self._settings.batch_max_records,
            timeout_ms=self._settings.batch_timeout_ms,
            retry_pause_seconds=RETRY_PAUSE_SECONDS,
        )
        consumer.subscribe([DETECTIONS.name], listener=workers)
        await consumer.start()
        self._running = (consumer, workers)

    async def stop(self) -> None:
        """The batches in hand finish and commit, then the consumer leaves its group."""
        if self._running is not None:
            (consumer, workers), self._running = self._running, None
            await workers.stop()
            await consumer.stop()
