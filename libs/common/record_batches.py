"""Publishing keyed messages as aiokafka record batches: one `send_batch` per partition
(more when one fills up) instead of one `send` per message.

aiokafka's per-message path (and FastStream's `publish` on top of it) costs about as much
CPU as building a small message. Here each message's partition is Kafka's default
partitioning of its key, exactly what a keyed `send` would choose, so the messages of a
key still land on one partition and in the order given: a partition's batches are queued
in that order, and aiokafka keeps one request in flight per broker. A batch is
acknowledged (with the producer's acks, `all` here) or failed as a whole, and so are its
messages. Used by ingest for detections and by the outbox relay for everything else."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, NamedTuple

from aiokafka import AIOKafkaProducer

from libs.common.kafka import murmur2_partitioner

Headers = list[tuple[str, bytes]]


class KeyedRecord(NamedTuple):
    """One message, serialized by the caller."""

    key: bytes
    value: bytes
    headers: Headers


async def publish_keyed(
    producer: AIOKafkaProducer, topic: str, records: Sequence[KeyedRecord]
) -> list[BaseException | None]:
    """Publish all to `topic` and wait for every ack; per record, the error that kept it
    from being acknowledged, or None. When a batch cannot even be queued (no broker), the
    rest are not tried: each would wait out the same timeout."""
    failures: list[BaseException | None] = [None] * len(records)
    if not records:
        return failures
    queued: list[tuple[asyncio.Future[Any], list[int]]] = []
    try:
        partitions = sorted(await producer.partitions_for(topic))
        by_partition: dict[int, list[int]] = {}
        for index, record in enumerate(records):
            partition = murmur2_partitioner(record.key, partitions, partitions)
            by_partition.setdefault(partition, []).append(index)
        for partition, indexes in by_partition.items():
            for members, batch in _record_batches(producer, records, indexes):
                ack = await producer.send_batch(batch, topic, partition=partition)
                queued.append((ack, members))
    except Exception as error:  # whatever stopped the queueing, the rest were not sent
        sent = {index for _, members in queued for index in members}
        failures = [None if index in sent else error for index in range(len(records))]
    outcomes = await asyncio.gather(*(ack for ack, _ in queued), return_exceptions=True)
    for outcome, (_, members) in zip(outcomes, queued, strict=True):
        if isinstance(outcome, BaseException):
            for index in members:
                failures[index] = outcome
    return failures


def _record_batches(
    producer: AIOKafkaProducer, records: Sequence[KeyedRecord], indexes: list[int]
) -> list[tuple[list[int], Any]]:
    """The records at `indexes` in record batches of at most the producer's batch size. A
    record alone is always taken, however large (callers bound message size)."""
    batches: list[tuple[list[int], Any]] = []
    members: list[int] = []
    batch = producer.create_batch()
    for index in indexes:
        key, value, headers = records[index]
        if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
            batches.append((members, batch))
            members, batch = [], producer.create_batch()
            batch.append(key=key, value=value, timestamp=None, headers=headers)
        members.append(index)
    batches.append((members, batch))
    for _, full in batches:
        full.close()
    return batches
