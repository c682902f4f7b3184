"""Publishing normalized detections to detections.v1 and waiting for the broker's acks."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from aiokafka import AIOKafkaProducer

from libs.common.contracts.detections import DETECTION_EVENT_TYPE, DetectionV1
from libs.common.contracts.envelope import SPEC_VERSION, CloudEventAttributes
from libs.common.contracts.topics import DETECTIONS
from libs.common.kafka import create_producer
from libs.common.logging import get_logger
from libs.common.settings import KafkaSettings

log = get_logger(__name__)
SOURCE = "casestream/ingest"
# A detection and its message value, serialized once by the caller (which checks its size).
EncodedDetection = tuple[DetectionV1, bytes]


def kafka_headers(detection: DetectionV1) -> list[tuple[str, bytes]]:
    # Built without validation: every value comes from an already validated detection,
    # and this runs once per detection on ingest's hot path.
    attributes = CloudEventAttributes.model_construct(
        id=detection.occurrence_id or str(uuid.uuid4()),
        source=SOURCE,
        type=DETECTION_EVENT_TYPE,
        subject=detection.detection_id,
        tenantid=detection.tenant_id,
        time=detection.ingested_at,
        specversion=SPEC_VERSION,
    )
    return [(name, value.encode()) for name, value in attributes.to_headers().items()]


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

    async def publish(self, detections: list[EncodedDetection]) -> list[str | None]:
        """Publish all, wait for every ack; returns per-detection failure text or None.

        When a send cannot even be queued (no broker), the rest are not tried: each would
        wait out the same timeout, and none of them is reported accepted either way."""
        if self._producer is None:
            raise RuntimeError("DetectionPublisher.start() was not awaited")
        futures: list[asyncio.Future[Any]] = []
        refused: str | None = None
        for detection, payload in detections:
            try:
                futures.append(
                    await self._producer.send(
                        DETECTIONS.name,
                        payload,
                        key=detection.partition_key(),
                        headers=kafka_headers(detection),
                    )
                )
            except Exception as error:
                refused = type(error).__name__
                break
        outcomes = await asyncio.gather(*futures, return_exceptions=True)
        failures: list[str | None] = [
            type(outcome).__name__ if isinstance(outcome, BaseException) else None
            for outcome in outcomes
        ]
        failures += [refused] * (len(detections) - len(failures))
        if any(failures):
            log.error("ingest.publish_failed", failed=sum(map(bool, failures)), total=len(failures))
        return failures
