"""The outbox relay publishes committed events to Kafka, keyed by case, and marks them sent;
with Kafka unreachable, writes still succeed and events wait."""

from __future__ import annotations

import asyncio
import json
import uuid

from aiokafka import AIOKafkaConsumer
from faststream.kafka import KafkaBroker
from sqlalchemy import text

from libs.common.casestore.store import CaseStore, NewCase
from libs.common.contracts.detections import Severity
from libs.common.db.engine import SessionFactory, transaction
from libs.common.kafka import create_broker
from libs.common.outbox import OutboxRelay
from libs.common.settings import KafkaSettings, OutboxSettings
from libs.embedded.ports import free_port


async def open_cases(sessions: SessionFactory, tenant: str, n: int) -> list[uuid.UUID]:
    ids = []
    for _ in range(n):
        async with transaction(sessions) as session:
            case, _ = await CaseStore("test").open_case(
                session, NewCase(tenant_id=tenant, title="c", severity=Severity.LOW), [], "t"
            )
        ids.append(case.id)
    return ids


async def unsent(sessions: SessionFactory, tenant: str) -> int:
    async with sessions() as session:
        count = await session.scalar(
            text("SELECT count(*) FROM outbox WHERE tenant_id = :t AND sent_at IS NULL"),
            {"t": tenant},
        )
    return int(count or 0)


async def drain(relay: OutboxRelay) -> None:
    while await relay.relay_once():
        pass


async def test_relay_publishes_and_marks_sent(
    sessions: SessionFactory, kafka_settings: KafkaSettings, tenant: str
) -> None:
    case_ids = await open_cases(sessions, tenant, 3)
    broker = create_broker(kafka_settings, client_id="test-relay")
    await broker.connect()
    try:
        await drain(OutboxRelay(sessions, broker, OutboxSettings()))
    finally:
        await broker.stop()
    assert await unsent(sessions, tenant) == 0

    consumer = AIOKafkaConsumer(
        "cases.events.v1",
        bootstrap_servers=kafka_settings.bootstrap_servers,
        group_id=f"test-{uuid.uuid4().hex}",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    mine: dict[str, dict[str, bytes]] = {}
    try:
        async with asyncio.timeout(20):
            while len(mine) < 3:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    for record in records:
                        headers = dict(record.headers)
                        if headers.get("ce_tenantid") == tenant.encode():
                            mine[record.key.decode()] = headers
                            assert json.loads(record.value)["case_id"] == record.key.decode()
    finally:
        await consumer.stop()
    assert set(mine) == {str(case_id) for case_id in case_ids}
    assert {h["ce_type"] for h in mine.values()} == {b"casestream.case.opened.v1"}


async def test_writes_succeed_while_kafka_is_down(sessions: SessionFactory, tenant: str) -> None:
    await open_cases(sessions, tenant, 2)  # no broker involved in the write path at all
    dead = KafkaBroker(f"127.0.0.1:{free_port()}", request_timeout_ms=500)
    relay = OutboxRelay(sessions, dead, OutboxSettings(poll_interval_ms=10))
    relay.start()
    await asyncio.sleep(1.0)
    await relay.stop()
    assert await unsent(sessions, tenant) == 2
