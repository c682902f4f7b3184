"""Publishing normalized detections to detections.v1 and waiting for the broker's acks."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from aiokafka import AIOKafkaProducer

from libs.common.contracts.detections import DETECTION_EVENT_TYPE, DetectionV1
from libs.common.contracts.envelope import CONTENT_TYPE, SPEC_VERSION
from libs.common.contracts.topics import DETECTIONS
from libs.common.kafka import create_producer, murmur2_partitioner
from libs.common.logging import get_logger
from libs.common.settings import KafkaSettings

log = get_logger(__name__)
SOURCE = "casestream/ingest"
Headers = list[tuple[str, bytes]]


class OutgoingDetection(NamedTuple):
    """One detections.v1 message, serialized once by the caller (which checks its size)."""

    key: bytes
    value: bytes
    headers: Headers


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


# Random UUIDs (version 4, RFC 4122 variant) made in bulk: `str(uuid.uuid4())` costs
# several microseconds apiece, and every detection gets one.
_VERSION_4 = bytes((byte & 0x0F) | 0x40 for byte in range(256))
_VARIANT = bytes((byte & 0x3F) | 0x80 for byte in range(256))


def new_event_ids(count: int) -> list[str]:
    """`count` new CloudEvents ids (the occurrence ids of detections): random UUIDs."""
    random = bytearray(os.urandom(16 * count))
    random[6::16] = random[6::16].translate(_VERSION_4)
    random[8::16] = random[8::16].translate(_VARIANT)
    text = random.hex()
    return [
        f"{text[at : at + 8]}-{text[at + 8 : at + 12]}-{text[at + 12 : at + 16]}-"
        f"{text[at + 16 : at + 20]}-{text[at + 20 : at + 32]}"
        for at in range(0, 32 * count, 32)
    ]


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

        Messages go out as one record batch per partition (more when one fills up), not
        one `send` each: aiokafka's per-message path cost about as much CPU as the rest
        of ingest's work on a detection. A batch is acknowledged or failed as a whole,
        and so are its messages. When a batch cannot even be queued (no broker), the
        rest are not tried: each would wait out the same timeout, and none of them is
        reported accepted either way."""
        if self._producer is None:
            raise RuntimeError("DetectionPublisher.start() was not awaited")
        failures: list[str | None] = [None] * len(messages)
        if not messages:
            return failures
        sent: list[tuple[asyncio.Future[Any], list[int]]] = []
        queued: set[int] = set()
        try:
            # Kafka's default partitioning of the key, as `send` would choose.
            partitions = sorted(await self._producer.partitions_for(DETECTIONS.name))
            by_partition: dict[int, list[int]] = {}
            for index, message in enumerate(messages):
                partition = murmur2_partitioner(message.key, partitions, partitions)
                by_partition.setdefault(partition, []).append(index)
            for partition, indexes in by_partition.items():
                for members, batch in self._batches(messages, indexes):
                    future = await self._producer.send_batch(
                        batch, DETECTIONS.name, partition=partition
                    )
                    sent.append((future, members))
                    queued.update(members)
        except Exception as error:
            for index in range(len(messages)):
                if index not in queued:
                    failures[index] = type(error).__name__
        outcomes = await asyncio.gather(*(future for future, _ in sent), return_exceptions=True)
        for outcome, (_, members) in zip(outcomes, sent, strict=True):
            if isinstance(outcome, BaseException):
                for index in members:
                    failures[index] = type(outcome).__name__
        if any(failures):
            log.error("ingest.publish_failed", failed=sum(map(bool, failures)), total=len(failures))
        return failures

    def _batches(
        self, messages: Sequence[OutgoingDetection], indexes: list[int]
    ) -> list[tuple[list[int], Any]]:
        """The messages at `indexes` in record batches of at most the configured size. A
        message alone is always taken, however large (the caller bounds message size)."""
        assert self._producer is not None
        batches: list[tuple[list[int], Any]] = []
        members: list[int] = []
        batch = self._producer.create_batch()
        for index in indexes:
            key, value, headers = messages[index]
            if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
                batches.append((members, batch))
                members, batch = [], self._producer.create_batch()
                batch.append(key=key, value=value, timestamp=None, headers=headers)
            members.append(index)
        batches.append((members, batch))
        for _, full in batches:
            full.close()
        return batches
