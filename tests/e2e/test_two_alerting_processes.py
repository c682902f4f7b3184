"""Two `python -m services.alerting` processes in one consumer group, on three partitions,
grouping by user: the same user's detections arrive on different partitions (detections
are keyed by host), so both processes write the same group key at the same time. The
result must equal one process's: one case per user, every detection stored once."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import text

from libs.common.contracts.detections import DetectionV1, EntityType, EntityV1
from libs.common.db.engine import SessionFactory, transaction
from libs.common.policies.alerting import AlertingPolicy, GroupingPolicy, Strategy
from libs.common.policies.repository import append_policy
from libs.embedded.pipeline import ServiceProcesses
from libs.embedded.tansu import TansuBroker
from services.ingest.publisher import kafka_headers
from tests.support.detections import detection
from tests.support.services import service_processes

# User after user, each on every host (so on every partition): both processes keep
# meeting the same users' first detections at the same time, with a backlog to chew.
USERS, HOSTS, PER_PAIR = 300, 6, 1


def by_user(tenant: str, detection_id: str, user: str, host: str, minutes: float) -> DetectionV1:
    base = detection(tenant, detection_id, host=host, rule=f"rule-{host}", minutes=minutes)
    return base.model_copy(update={"entities": [EntityV1(type=EntityType.USER, value=user)]})


@pytest.fixture
async def two_instances(
    tansu: TansuBroker, database_url: str, tenant: str, run_dir: Path
) -> AsyncIterator[list[ServiceProcesses]]:
    group = f"alerting-{tenant}"
    instances = [
        service_processes(
            ("alerting",),
            tansu,
            database_url,
            tenant,
            run_dir / f"two-alerting-{n}-{tenant}",
            {
                "CASESTREAM__ALERTING__CONSUMER_GROUP": group,
                "CASESTREAM__ALERTING__BATCH_MAX_RECORDS": "100",
            },
        )
        for n in range(2)
    ]
    for instance in instances:
        await asyncio.to_thread(instance.start)
    try:
        yield instances
    finally:
        for instance in instances:
            await asyncio.to_thread(instance.stop)


async def publish(producer: AIOKafkaProducer, detections: list[DetectionV1]) -> None:
    sends = [
        await producer.send(
            "detections.v1",
            d.model_dump_json().encode(),
            key=d.partition_key(),
            headers=kafka_headers(d),
        )
        for d in detections
    ]
    await asyncio.gather(*sends)


def processed_batches(instance: ServiceProcesses) -> int:
    log = instance.config.log_dir / "alerting.log"
    return log.read_text().count("alerting.batch_processed") if log.exists() else 0


async def test_two_processes_racing_on_shared_keys_give_one_case_per_user(
    two_instances: list[ServiceProcesses],
    tansu: TansuBroker,
    sessions: SessionFactory,
    tenant: str,
) -> None:
    policy = AlertingPolicy(
        grouping=GroupingPolicy(strategy=Strategy.ENTITY, entity_types=(EntityType.USER,))
    )
    async with transaction(sessions) as session:
        await append_policy(session, tenant, policy, "test")
    producer = AIOKafkaProducer(bootstrap_servers=tansu.bootstrap_servers, acks="all")
    await producer.start()
    try:
        # Warm up until both processes hold partitions and have processed something.
        deadline = time.monotonic() + 90
        while not all(processed_batches(i) for i in two_instances):
            if time.monotonic() > deadline:
                pytest.fail(
                    "both alerting processes never processed a batch:\n"
                    + "\n".join(i.log_tails() for i in two_instances)
                )
            warm = [
                by_user(tenant, f"warm-{uuid.uuid4().hex}", "warm-up", f"host-{h}", 0)
                for h in range(HOSTS)
            ]
            await publish(producer, warm)
            await asyncio.sleep(1)
        load = [
            by_user(tenant, f"user-{u}-{h}-{n}", f"user-{u}", f"host-{h}", minutes=n)
            for u in range(USERS)
            for h in range(HOSTS)
            for n in range(PER_PAIR)
        ]
        await publish(producer, load)
        await publish(producer, load[::3])  # redelivered copies, racing the originals
    finally:
        await producer.stop()

    expected = len(load)
    deadline = time.monotonic() + 120
    while (stored := await count(sessions, tenant, "user-%")) < expected:
        if time.monotonic() > deadline:
            pytest.fail(f"{stored} of {expected} stored\n" + two_instances[0].log_tails())
        await asyncio.sleep(0.5)
    async with sessions() as session:
        cases = (
            await session.execute(
                text(
                    "SELECT group_key, alert_count, (SELECT count(*) FROM alerts a"
                    " WHERE a.case_id = c.id) AS stored FROM cases c"
                    " WHERE tenant_id = :t AND group_key LIKE 'entity:user=user-%'"
                    " ORDER BY group_key"
                ),
                {"t": tenant},
            )
        ).all()
    assert [c.group_key for c in cases] == sorted(f"entity:user=user-{u}" for u in range(USERS))
    assert {(c.alert_count, c.stored) for c in cases} == {(HOSTS * PER_PAIR, HOSTS * PER_PAIR)}
    assert await count(sessions, tenant, "user-%") == expected  # nothing stored twice
    assert all(processed_batches(i) for i in two_instances)


async def count(sessions: SessionFactory, tenant: str, pattern: str) -> int:
    async with sessions() as session:
        found = await session.scalar(
            text("SELECT count(*) FROM alerts WHERE tenant_id = :t AND detection_id LIKE :p"),
            {"t": tenant, "p": pattern},
        )
    return int(found or 0)
