"""The raw broker rate on this machine, measured in the same run as the pipeline:
produce with acks=all and consume with a consumer group, messages the size of ours."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic


@dataclass(frozen=True)
class KafkaBaseline:
    messages: int
    produce_per_second: float
    consume_per_second: float


async def measure_kafka(bootstrap: str, payloads: list[bytes], partitions: int) -> KafkaBaseline:
    topic = f"bench-baseline-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, partitions, replication_factor=1)])
    await admin.close()

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=2, max_batch_size=1_048_576
    )
    await producer.start()
    started = time.perf_counter()
    futures = [
        await producer.send(topic, p, key=str(i % 64).encode()) for i, p in enumerate(payloads)
    ]
    await asyncio.gather(*futures)
    produce_seconds = time.perf_counter() - started
    await producer.stop()

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"{topic}-reader",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=1_000,
    )
    await consumer.start()
    received, started = 0, 0.0
    async with asyncio.timeout(120):
        while received < len(payloads):
            batch = await consumer.getmany(timeout_ms=500)
            if batch and not started:
                started = time.perf_counter()  # the group join is not part of the rate
            received += sum(len(records) for records in batch.values())
            if batch:
                await consumer.commit()
    consume_seconds = time.perf_counter() - started
    await consumer.stop()
    return KafkaBaseline(
        len(payloads), len(payloads) / produce_seconds, len(payloads) / consume_seconds
    )
