"""Publishing normalized detections to detections.v1 and waiting for the broker's acks."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from aiokafka import AIOKafkaProducer

from libs.common.contracts.detections import DETECTION_EVENT_TYPE, DetectionV1
from libs.common.contracts.envelope import CONTENT_TYPE, SPEC_VERSION, new_event_ids
from libs.common.contracts.topics import DETECTIONS
from libs.common.kafka import create_producer
from libs.common.logging import get_logger
from libs.common.record_batches import Headers, KeyedRecord, publish_keyed
from libs.common.settings import KafkaSettings

log = get_logger(__name__)
SOURCE = "casestream/ingest"


class OutgoingDetection(KeyedRecord):
    """One detections.v1 message, serialized once by the caller (which checks its size)."""

    __slots__ = ()


class DetectionHeaders:
    """The CloudEvents headers (binary mode) of detections sharing a tenant and an ingest
    time, as `CloudEventAttributes.to_headers` writes them, in its order. Built without
    a model per detection: this runs once per detection on ingest's hot path."""

    def __init__(self, tenant_id: str, ingested_at: datetime) -> None:
        self._before_id = ("ce_specversion", SPEC_VERSION.encode())
        self._after_id = (
            ("ce_source", SOURCE.encode()),
            ("ce_type", DETECTION_EVENT_TYPE.encode()),
            ("ce_time", ingested_at.isoformat().encode()),
            ("ce_tenantid", tenant_id.encode()),
            ("content-type", CONTENT_TYPE.encode()),
        )

    def of(self, occurrence_id: str, detection_id: str) -> Headers:
        return [
            self._before_id,
            ("ce_id", occurrence_id.encode()),
            *self._after_id,
            ("ce_subject", detection_id.encode()),
        ]


def kafka_headers(detection: DetectionV1) -> Headers:
    """The headers of one detection published on its own (tests, tools)."""
    headers = DetectionHeaders(detection.tenant_id, detection.ingested_at)
    return headers.of(detection.occurrence_id or new_event_ids(1)[0], detection.detection_id)


class DetectionPublisher:
    def __init__(self, settings: KafkaSettings) -> None:
        self._settings = settings
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        # aiokafka binds a producer to the running loop: create it only once there is one.
        self._producer = create_producer(self._settings, client_id="ingest-detections")
        await self._producer.start()

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def publish(self, messages: Sequence[OutgoingDetection]) -> list[str | None]:
        """Publish all, wait for every ack; returns per-message failure text or None.

        Messages go out as record batches per partition (`publish_keyed`), not one `send`
        each: aiokafka's per-message path cost about as much CPU as the rest of ingest's
        work on a detection. A batch is acknowledged or failed as a whole, and so are its
        messages."""
        if self._producer is None:
            raise RuntimeError("DetectionPublisher.start() was not awaited")
        errors = await publish_keyed(self._producer, DETECTIONS.name, messages)
        failures = [None if error is None else type(error).__name__ for error in errors]
        if any(failures):
            log.error("ingest.publish_failed", failed=sum(map(bool, failures)), total=len(failures))
        return failures
