"""One Kafka broker factory with at-least-once defaults, topic creation and the DLQ helper.

Consumers built on these defaults commit offsets by hand after their database commit and
start from the earliest offset, so nothing acknowledged upstream is skipped. Producers use
acks=all and no idempotence (Tansu has no InitProducerId); duplicates are absorbed by
idempotent consumers, not by Kafka transactions."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Any, Literal

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.partitioner import DefaultPartitioner
from faststream import AckPolicy
from faststream.kafka import KafkaBroker

from libs.common.contracts.envelope import decode_headers
from libs.common.contracts.topics import ALL_TOPICS, DETECTIONS_DLQ, Topic
from libs.common.logging import get_logger
from libs.common.murmur2 import murmur2
from libs.common.settings import KafkaSettings

log = get_logger(__name__)


def at_least_once(settings: KafkaSettings) -> dict[str, Any]:
    """Spread into every subscriber: manual ack after the DB commit, earliest offset, and
    the broker's hold on an empty fetch kept short (KafkaSettings.consumer_fetch_max_wait_ms)."""
    return {
        "ack_policy": AckPolicy.MANUAL,
        "auto_offset_reset": "earliest",
        "fetch_max_wait_ms": settings.consumer_fetch_max_wait_ms,
    }


def create_broker(settings: KafkaSettings, *, client_id: str) -> KafkaBroker:
    acks: Literal[0, 1, -1, "all"] = "all" if settings.acks == "all" else int(settings.acks)  # type: ignore[assignment]
    return KafkaBroker(
        settings.bootstrap_servers,
        client_id=f"{settings.client_id}-{client_id}",
        acks=acks,
        enable_idempotence=False,
        request_timeout_ms=settings.request_timeout_ms,
        max_batch_size=settings.producer_max_batch_bytes,
        linger_ms=settings.producer_linger_ms,
        graceful_timeout=15.0,
        logger=None,
    )


def create_producer(settings: KafkaSettings, *, client_id: str) -> AIOKafkaProducer:
    """A bare aiokafka producer with the same settings as the broker's, for hot paths where
    FastStream's per-message publish wrapper costs as much as the send itself."""
    return AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap_servers,
        client_id=f"{settings.client_id}-{client_id}",
        acks="all" if settings.acks == "all" else int(settings.acks),
        enable_idempotence=False,
        request_timeout_ms=settings.request_timeout_ms,
        max_batch_size=settings.producer_max_batch_bytes,
        linger_ms=settings.producer_linger_ms,
        partitioner=murmur2_partitioner,
    )


def create_consumer(
    settings: KafkaSettings, *, client_id: str, group_id: str, max_partition_fetch_bytes: int
) -> AIOKafkaConsumer:
    """A bare aiokafka group member with at_least_once's semantics (offsets committed by
    hand after the database commit, earliest offset first), for a consumer that manages
    its partitions itself (alerting's partition workers). Subscribed by the caller."""
    return AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        client_id=f"{settings.client_id}-{client_id}",
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        request_timeout_ms=settings.request_timeout_ms,
        max_partition_fetch_bytes=max_partition_fetch_bytes,
        fetch_max_wait_ms=settings.consumer_fetch_max_wait_ms,
    )


def murmur2_partitioner(key: bytes | None, all_partitions: list[int], available: list[int]) -> int:
    """Kafka's default partitioning: murmur2 of the key (native code, no cache needed:
    most keys the relay hashes are seen once), positive, modulo the partition count."""
    if key is None:
        return int(DefaultPartitioner()(key, all_partitions, available))
    return int(all_partitions[(murmur2(key) & 0x7FFFFFFF) % len(all_partitions)])


async def ensure_topics(settings: KafkaSettings, topics: Iterable[Topic] = ALL_TOPICS) -> None:
    """Create every registered topic with the configured partition count if missing.

    Topics created implicitly by a first produce get a single partition, which would
    serialize each consumer group, so services and the dev stack call this at start."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.bootstrap_servers,
        request_timeout_ms=settings.request_timeout_ms,
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(topic.name, settings.topic_partitions, replication_factor=1)
            for topic in topics
            if topic.name not in existing
        ]
        if missing:
            # Another service may create them at the same moment.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
            log.info("kafka.topics_created", topics=[topic.name for topic in missing])
    finally:
        await admin.close()


async def publish_dead_letter(
    broker: KafkaBroker,
    *,
    value: bytes,
    key: bytes | None,
    reason: str,
    source_topic: str,
    partition: int | None,
    offset: int | None,
    headers: dict[str, str] | None = None,
) -> None:
    """Send the original bytes to the DLQ with why, and where they came from."""
    dlq_headers = dict(headers or {})
    dlq_headers.update(
        {
            "dlq_reason": reason[:2_000],
            "dlq_source_topic": source_topic,
            "dlq_partition": "" if partition is None else str(partition),
            "dlq_offset": "" if offset is None else str(offset),
        }
    )
    await broker.publish(value, DETECTIONS_DLQ.name, key=key, headers=dlq_headers)
    log.warning("kafka.dead_lettered", reason=reason, topic=source_topic, offset=offset)


async def dead_letter_record(broker: KafkaBroker, record: Any, reason: str) -> None:
    """Dead-letter a consumed aiokafka record: its bytes, key and headers, and where it was."""
    await publish_dead_letter(
        broker,
        value=record.value or b"",
        key=record.key,
        reason=reason,
        source_topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        headers=decode_headers(record.headers),
    )


async def gather_acks(futures: list[asyncio.Future[Any]]) -> None:
    """Wait for every broker acknowledgement; raise the first failure."""
    if futures:
        await asyncio.gather(*futures)
