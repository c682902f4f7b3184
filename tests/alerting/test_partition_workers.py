"""Alerting's partition workers on a real broker: every partition's records in order, one
batch at a time per partition, partitions at the same time; offsets committed only after
the handler said the batch is done; a refused batch read again from its first record; a
stop or a rebalance lets the batch in hand finish and commit, so nothing is lost and
nothing is handled twice."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from libs.common.kafka import at_least_once, create_consumer
from libs.common.settings import KafkaSettings
from services.alerting.partitions import PartitionWorkers

PARTITIONS, PER_PARTITION, BATCH = 3, 30, 10


@dataclass
class Recorder:
    """A batch handler that notes what it was given, and when, and takes its time."""

    pause: float = 0.1
    refuse_first: Callable[[list[Any]], bool] = lambda records: False
    batches: list[tuple[int, list[int]]] = field(default_factory=list)
    in_flight: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    most_in_flight: int = 0
    most_in_one_partition: int = 0
    refused: int = 0

    async def __call__(self, records: list[Any]) -> bool:
        partition = records[0].partition
        self.in_flight[partition] += 1
        self.most_in_flight = max(self.most_in_flight, sum(self.in_flight.values()))
        self.most_in_one_partition = max(self.most_in_one_partition, self.in_flight[partition])
        try:
            await asyncio.sleep(self.pause)
        finally:
            self.in_flight[partition] -= 1
        if not self.refused and self.refuse_first(records):
            self.refused += 1
            return False
        self.batches.append((partition, [r.offset for r in records]))
        return True

    def offsets(self, partition: int) -> list[int]:
        return [o for p, batch in self.batches if p == partition for o in batch]

    def handled(self) -> int:
        return sum(len(batch) for _, batch in self.batches)


@pytest.fixture
async def topic(kafka_settings: KafkaSettings) -> str:
    name = f"workers-{uuid.uuid4().hex[:10]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_settings.bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, PARTITIONS, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=kafka_settings.bootstrap_servers, acks="all")
    await producer.start()
    try:
        sends = [
            await producer.send(name, f"{p}:{n}".encode(), partition=p)
            for p in range(PARTITIONS)
            for n in range(PER_PARTITION)
        ]
        await asyncio.gather(*sends)
    finally:
        await producer.stop()
    return name


async def member(
    kafka: KafkaSettings, topic: str, group: str, handle: Recorder, batch: int = BATCH
) -> tuple[AIOKafkaConsumer, PartitionWorkers]:
    consumer = create_consumer(
        kafka, client_id="test", group_id=group, max_partition_fetch_bytes=64 * 1024
    )
    workers = PartitionWorkers(
        consumer, handle, max_records=batch, timeout_ms=50, retry_pause_seconds=0.05
    )
    consumer.subscribe([topic], listener=workers)
    await consumer.start()
    return consumer, workers


async def wait_until(condition: Callable[[], bool], seconds: float = 60) -> None:
    async with asyncio.timeout(seconds):
        while True:
            if condition():
                return
            await asyncio.sleep(0.05)


async def committed(consumer: AIOKafkaConsumer, topic: str) -> list[int | None]:
    return [await consumer.committed(TopicPartition(topic, p)) for p in range(PARTITIONS)]


async def work_through_everything(kafka: KafkaSettings, topic: str, recorder: Recorder) -> None:
    """One member until every record was handled; then every partition's offsets must be
    committed to its end."""
    consumer, workers = await member(kafka, topic, f"g-{topic}", recorder)
    try:
        await wait_until(lambda: recorder.handled() == PARTITIONS * PER_PARTITION)
        await workers.stop()
        assert await committed(consumer, topic) == [PER_PARTITION] * PARTITIONS
    finally:
        await consumer.stop()


async def test_partitions_are_worked_at_once_each_in_order_and_committed(
    kafka_settings: KafkaSettings, topic: str
) -> None:
    recorder = Recorder()
    await work_through_everything(kafka_settings, topic, recorder)
    for partition in range(PARTITIONS):
        assert recorder.offsets(partition) == list(range(PER_PARTITION))
    assert all(len(batch) <= BATCH for _, batch in recorder.batches)
    assert recorder.most_in_one_partition == 1
    assert recorder.most_in_flight > 1  # batches of different partitions overlapped


async def test_a_refused_batch_is_read_again_from_its_first_record(
    kafka_settings: KafkaSettings, topic: str
) -> None:
    recorder = Recorder(pause=0.01, refuse_first=lambda rs: rs[0].partition == 1)
    await work_through_everything(kafka_settings, topic, recorder)
    assert recorder.refused == 1
    assert recorder.offsets(1) == list(range(PER_PARTITION))  # nothing skipped, no repeat


async def test_stop_lets_the_batch_in_hand_finish_and_commit(
    kafka_settings: KafkaSettings, topic: str
) -> None:
    recorder = Recorder(pause=1.0)
    consumer, workers = await member(kafka_settings, topic, f"g-{topic}", recorder)
    try:
        await wait_until(lambda: sum(recorder.in_flight.values()) > 0)
        await workers.stop()
        handled_at_stop = recorder.handled()
        offsets = await committed(consumer, topic)
        await asyncio.sleep(0.3)
        assert recorder.handled() == handled_at_stop  # no batch starts after stop
    finally:
        await consumer.stop()
    assert handled_at_stop > 0
    assert offsets == [len(recorder.offsets(p)) or None for p in range(PARTITIONS)]


async def test_a_member_joining_takes_partitions_where_the_first_left_off(
    kafka_settings: KafkaSettings, topic: str
) -> None:
    # Slow enough (two records a second per partition) that the group rebalances, which
    # takes the broker seconds, while the first member is still at work.
    first, second = Recorder(pause=1.0), Recorder(pause=1.0)
    group = f"g-{topic}"
    consumer, workers = await member(kafka_settings, topic, group, first, batch=2)
    joined: tuple[AIOKafkaConsumer, PartitionWorkers] | None = None
    try:
        await wait_until(lambda: first.handled() > 0)
        joined = await member(kafka_settings, topic, group, second, batch=2)
        await wait_until(lambda: first.handled() + second.handled() >= PARTITIONS * PER_PARTITION)
        await asyncio.sleep(0.5)  # anything handled twice would show up by now
    finally:
        for running in (joined, (consumer, workers)):
            if running is not None:
                await running[1].stop()
                await running[0].stop()
    assert second.handled() > 0, "the second member never got a partition"
    for partition in range(PARTITIONS):
        both = sorted(first.offsets(partition) + second.offsets(partition))
        assert both == list(range(PER_PARTITION)), f"partition {partition}"


async def test_consumers_let_the_broker_hold_an_empty_fetch_only_briefly() -> None:
    """Tansu answers a held fetch of several partitions only when its wait runs out: with
    aiokafka's 500 ms, detections after a quiet moment waited ~250 ms (the paced p99 of
    bench-alerting). The consumer asks for what the settings say, 50 ms by default."""
    settings = KafkaSettings()
    consumer = create_consumer(settings, client_id="t", group_id="g", max_partition_fetch_bytes=1)
    assert consumer._fetch_max_wait_ms == settings.consumer_fetch_max_wait_ms == 50
    tuned = KafkaSettings(consumer_fetch_max_wait_ms=20)
    consumer = create_consumer(tuned, client_id="t", group_id="g", max_partition_fetch_bytes=1)
    assert consumer._fetch_max_wait_ms == 20
    # The FastStream subscribers (ingest's raw topic, the executor, the notifier, the
    # alert indexer) take it from the same settings.
    assert at_least_once(tuned)["fetch_max_wait_ms"] == 20
