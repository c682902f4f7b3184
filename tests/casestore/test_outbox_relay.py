"""The outbox relay publishes committed events to Kafka, keyed by case, and marks them sent;
with Kafka unreachable, writes still succeed and events wait."""

from __future__ import annotations

import asyncio
import json
import uuid

from faststream.kafka import KafkaBroker
from sqlalchemy import text

from libs.common.casestore.store import CaseStore, NewCase
from libs.common.contracts.detections import Severity
from libs.common.db.engine import SessionFactory, transaction
from libs.common.kafka import create_broker
from libs.common.outbox import OutboxRelay
from libs.common.settings import KafkaSettings, OutboxSettings
from libs.embedded.ports import free_port
from tests.support.kafka import header, read_until


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

    records = await read_until(
        kafka_settings.bootstrap_servers,
        "cases.events.v1",
        lambda record: header(record, "ce_tenantid") == tenant.encode(),
        count=3,
    )
    mine = {record.key.decode(): dict(record.headers) for record in records}
    assert all(json.loads(r.value)["case_id"] == r.key.decode() for r in records)
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
