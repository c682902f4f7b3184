"""Publishing normalized detections to detections.v1 and waiting for the broker's acks."""

from __future__ import annotations

import asyncio
from typing import Any

from faststream.kafka import KafkaBroker

from libs.common.contracts.detections import DETECTION_EVENT_TYPE, DetectionV1
from libs.common.contracts.envelope import CloudEventAttributes
from libs.common.contracts.topics import DETECTIONS
from libs.common.logging import get_logger

log = get_logger(__name__)
SOURCE = "casestream/ingest"


class DetectionPublisher:
    def __init__(self, broker: KafkaBroker) -> None:
        self._broker = broker

    async def publish(self, detections: list[DetectionV1]) -> list[str | None]:
        """Publish all, wait for every ack; returns per-detection failure text or None."""
        futures: list[asyncio.Future[Any] | BaseException] = []
        for detection in detections:
            attributes = CloudEventAttributes(
                source=SOURCE,
                type=DETECTION_EVENT_TYPE,
                subject=detection.detection_id,
                tenantid=detection.tenant_id,
                time=detection.ingested_at,
            )
            try:
                futures.append(
                    await self._broker.publish(
                        detection.model_dump_json().encode(),
                        DETECTIONS.name,
                        key=detection.partition_key(),
                        headers=attributes.to_headers(),
                        no_confirm=True,
                    )
                )
            except Exception as error:
                futures.append(error)
        outcomes = await asyncio.gather(
            *[f for f in futures if not isinstance(f, BaseException)], return_exceptions=True
        )
        pending = iter(outcomes)
        failures: list[str | None] = []
        for future in futures:
            outcome = future if isinstance(future, BaseException) else next(pending)
            failures.append(type(outcome).__name__ if isinstance(outcome, BaseException) else None)
        if any(failures):
            log.error("ingest.publish_failed", failed=sum(map(bool, failures)), total=len(failures))
        return failures
