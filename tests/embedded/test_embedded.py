"""Smoke tests for libs.embedded: the pieces every other test and `make dev` stand on."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from libs.embedded import (
    EmbeddedStartError,
    SeaweedPorts,
    SeaweedServer,
    TansuBroker,
    broker_answers,
    free_port,
)
from libs.embedded.postgres import (
    asyncpg_dsn,
    create_database,
    drop_database,
    server_answers,
    sqlalchemy_url,
)
from libs.embedded.redis_check import redis_answers

LOCAL_POSTGRES = os.environ.get(
    "CASESTREAM__DATABASE__URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TansuBroker]:
    with TansuBroker(tmp_path_factory.mktemp("tansu")) as started:
        yield started


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still has a pid; it is gone for our purposes once reaped or defunct.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(") ")[1][0] != "Z"


async def _produce(bootstrap: str, topic: str, count: int, partitions: int = 3) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, partitions, replication_factor=1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for i in range(count):
            await producer.send_and_wait(topic, f"m{i}".encode(), key=f"k{i % 5}".encode())
    finally:
        await producer.stop()


async def _consume_and_commit(bootstrap: str, topic: str, group: str, want: int) -> list[bytes]:
    """Everything the group gets until `want` messages or 2 s of silence; then commit."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    received: list[bytes] = []
    try:
        while len(received) < want:
            batches = await consumer.getmany(timeout_ms=2_000)
            if not batches:
                break
            for records in batches.values():
                received.extend(r.value for r in records if r.value is not None)
        await consumer.commit()
    finally:
        await consumer.stop()
    return received


async def test_produce_consume_roundtrip(broker: TansuBroker) -> None:
    topic = f"smoke-{uuid.uuid4().hex[:8]}"
    await _produce(broker.bootstrap_servers, topic, 30)
    received = await _consume_and_commit(broker.bootstrap_servers, topic, f"g-{topic}", 30)
    assert sorted(received) == sorted(f"m{i}".encode() for i in range(30))


async def _committed(bootstrap: str, topic: str, group: str) -> int | None:
    # Assigned, not subscribed: reading a group's offset needs no group join (which,
    # right after a broker restart, waits out the old member's session).
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await consumer.start()
    try:
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        offset: int | None = await consumer.committed(partition)
        return offset
    finally:
        await consumer.stop()


async def _read_from_start(bootstrap: str, topic: str, want: int) -> list[bytes]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    received: list[bytes] = []
    try:
        consumer.assign([TopicPartition(topic, 0)])
        await consumer.seek_to_beginning()
        while len(received) < want:
            batches = await consumer.getmany(timeout_ms=5_000)
            assert batches, f"timed out with {len(received)} of {want} messages"
            for records in batches.values():
                received.extend(r.value for r in records if r.value is not None)
    finally:
        await consumer.stop()
    return received


async def test_durable_broker_keeps_data_and_offsets_across_restart(tmp_path: Path) -> None:
    seaweed = SeaweedServer(tmp_path / "seaweed", ports=SeaweedPorts.free())
    seaweed.start()
    try:
        with TansuBroker(tmp_path, storage="s3://tansu/", s3=seaweed.endpoint) as broker:
            bootstrap = broker.bootstrap_servers
            await _produce(bootstrap, "durable", 20, partitions=1)
            assert len(await _consume_and_commit(bootstrap, "durable", "committed", 20)) == 20
            broker.stop()
            broker.start()
            assert await _committed(bootstrap, "durable", "committed") == 20
            assert len(await _read_from_start(bootstrap, "durable", 20)) == 20
    finally:
        # The data dir is thrown away: no need to wait out SeaweedFS's 15 s graceful stop.
        seaweed.stop(timeout=2)
    assert not seaweed.running


def test_stop_leaves_no_process(tmp_path: Path) -> None:
    broker = TansuBroker(tmp_path)
    broker.start()
    pid = broker.pid
    assert pid is not None
    assert _process_exists(pid)
    broker.stop()
    assert not broker.running
    assert not _process_exists(pid)


async def test_restart_keeps_the_port(tmp_path: Path) -> None:
    with TansuBroker(tmp_path) as broker:
        first = broker.bootstrap_servers
        broker.stop()
        assert not await broker_answers(first, connect_timeout=0.5)
        broker.start()
        assert broker.bootstrap_servers == first
        assert await broker_answers(first)


def test_start_failure_names_the_log(tmp_path: Path) -> None:
    broker = TansuBroker(tmp_path, storage="postgres://nowhere/", startup_timeout=5)
    with pytest.raises(EmbeddedStartError, match=r"(?s)tansu exited.*FeatureNotEnabled"):
        broker.start()
    assert not broker.running


async def test_nothing_answers_on_a_free_port() -> None:
    assert not await broker_answers(f"127.0.0.1:{free_port()}", connect_timeout=0.5)
    assert not await server_answers(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/x")
    assert not await redis_answers(f"redis://127.0.0.1:{free_port()}/0")


async def test_create_and_drop_database() -> None:
    if not await server_answers(LOCAL_POSTGRES):
        pytest.skip(f"no Postgres answers at {LOCAL_POSTGRES}")
    name = f"embedded_smoke_{uuid.uuid4().hex[:8]}"
    url = await create_database(LOCAL_POSTGRES, name)
    assert url == sqlalchemy_url(url)  # the form the services read

    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        assert await conn.fetchval("SELECT current_database()") == name
        # An open connection must not block the drop.
        await drop_database(LOCAL_POSTGRES, name)
    finally:
        await conn.close()

    admin = await asyncpg.connect(asyncpg_dsn(LOCAL_POSTGRES))
    try:
        assert await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name) is None
    finally:
        await admin.close()
