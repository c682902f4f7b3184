"""Kafka transport for ingest: the `detections.raw.v1` subscriber."""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from libs.common.contracts.topics import DETECTIONS_RAW
from libs.common.errors import BrokerUnavailable
from libs.common.kafka import at_least_once
from libs.common.logging import get_logger
from libs.common.settings import KafkaSettings
from services.ingest.raw import RawTopicIngest
from services.ingest.settings import IngestSection

log = get_logger(__name__)
RETRY_PAUSE_SECONDS = 1.0


def register_raw_consumer(
    broker: KafkaBroker, kafka: KafkaSettings, settings: IngestSection, raw: RawTopicIngest
) -> None:
    @broker.subscriber(
        DETECTIONS_RAW.name,
        group_id=settings.raw_consumer_group,
        batch=True,
        max_records=500,
        batch_timeout_ms=100,
        **at_least_once(kafka),
    )
    async def on_raw_detections(msg: KafkaMessage) -> None:
        records: tuple[Any, ...] = msg.raw_message
        with structlog.contextvars.bound_contextvars(
            topic=DETECTIONS_RAW.name,
            partitions=sorted({record.partition for record in records}),
            first_offset=records[0].offset,
            last_offset=records[-1].offset,
        ):
            try:
                outcome = await raw.ingest_records(records)
            except BrokerUnavailable:
                log.exception("ingest.raw_batch_failed", size=len(records))
                await msg.nack()
                await asyncio.sleep(RETRY_PAUSE_SECONDS)
                return
            await msg.ack()  # only after detections.v1 acknowledged every detection
            log.info(
                "ingest.raw_batch", published=outcome.published, dead_lettered=outcome.dead_lettered
            )
