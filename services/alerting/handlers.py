"""Kafka transport for alerting: decode a batch, dead-letter what cannot be read, hand the
rest to the grouping service in one transaction, then commit the offsets."""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import ValidationError

from libs.common.contracts.detections import DetectionV1
from libs.common.contracts.envelope import decode_headers
from libs.common.contracts.topics import DETECTIONS
from libs.common.db.engine import SessionFactory, transaction
from libs.common.kafka import AT_LEAST_ONCE, publish_dead_letter
from libs.common.logging import get_logger
from libs.common.outbox import OutboxRelay
from services.alerting.service import GroupingService
from services.alerting.settings import AlertingSection

log = get_logger(__name__)
RETRY_PAUSE_SECONDS = 1.0


async def decode_batch(broker: KafkaBroker, records: tuple[Any, ...]) -> list[DetectionV1]:
    detections = []
    for record in records:
        headers = decode_headers(record.headers)
        try:
            detection = DetectionV1.model_validate_json(record.value or b"")
            claimed = headers.get("ce_tenantid")
            if claimed is not None and claimed != detection.tenant_id:
                raise ValueError(f"tenant header {claimed!r} does not match the payload")
        except (ValidationError, ValueError) as error:
            await publish_dead_letter(
                broker,
                value=record.value or b"",
                key=record.key,
                reason=str(error),
                source_topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                headers=headers,
            )
            continue
        detections.append(detection)
    return detections


def register_handlers(
    broker: KafkaBroker,
    settings: AlertingSection,
    sessions: SessionFactory,
    grouping: GroupingService,
    relay: OutboxRelay,
) -> None:
    @broker.subscriber(
        DETECTIONS.name,
        group_id=settings.consumer_group,
        batch=True,
        max_records=settings.batch_max_records,
        batch_timeout_ms=settings.batch_timeout_ms,
        **AT_LEAST_ONCE,
    )
    async def on_detections(msg: KafkaMessage) -> None:
        records: tuple[Any, ...] = msg.raw_message
        partitions = sorted({record.partition for record in records})
        with structlog.contextvars.bound_contextvars(
            topic=DETECTIONS.name,
            partitions=partitions,
            first_offset=records[0].offset,
            last_offset=records[-1].offset,
        ):
            try:
                detections = await decode_batch(broker, records)
                async with transaction(sessions) as session:
                    outcome = await grouping.process(session, detections)
            except Exception:
                # Nothing committed: rewind so the whole batch is read again.
                log.exception("alerting.batch_failed", size=len(records))
                await msg.nack()
                await asyncio.sleep(RETRY_PAUSE_SECONDS)
                return
            relay.notify()
            await msg.ack()  # offsets only after the database commit above
            log.info(
                "alerting.batch_processed",
                size=len(records),
                stored=outcome.stored,
                duplicates=outcome.duplicates,
                opened=outcome.cases_opened,
            )
