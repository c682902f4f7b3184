"""Unreadable input on detections.v1 goes to the DLQ with the original bytes and the
reason, and does not block the detections behind it; a readable one is stored as it was
published."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaProducer
from pydantic import SecretStr
from sqlalchemy import text

from libs.common.db.engine import SessionFactory
from libs.common.settings import DatabaseSettings, KafkaSettings
from services.alerting.app import create_app
from services.alerting.settings import AlertingSection, AlertingSettings
from tests.support.detections import detection
from tests.support.kafka import read_until


async def stored_detection_ids(
    sessions: SessionFactory, tenant: str, at_least: int = 1
) -> list[str]:
    """The tenant's stored detection ids, sorted, once there are `at_least` (or fail after
    30 s)."""
    async with asyncio.timeout(30):
        while True:
            async with sessions() as session:
                result = await session.execute(
                    text("SELECT detection_id FROM alerts WHERE tenant_id = :t"), {"t": tenant}
                )
                stored = sorted(result.scalars())
            if len(stored) >= at_least:
                return stored
            await asyncio.sleep(0.2)


@pytest.fixture
async def alerting(kafka_settings: KafkaSettings, database_url: str) -> AsyncIterator[None]:
    settings = AlertingSettings(
        kafka=kafka_settings,
        database=DatabaseSettings(url=SecretStr(database_url)),
        alerting=AlertingSection(consumer_group=f"alerting-dlq-{uuid.uuid4().hex}"),
    )
    app = create_app(settings)
    await app.start()
    yield
    await app.stop()


async def test_bad_messages_are_dead_lettered_and_good_ones_processed(
    alerting: None, kafka_settings: KafkaSettings, sessions: SessionFactory, tenant: str
) -> None:
    good = detection(tenant, "good-1")
    producer = AIOKafkaProducer(bootstrap_servers=kafka_settings.bootstrap_servers)
    await producer.start()
    try:
        marker = f"not json {tenant}".encode()
        await producer.send_and_wait("detections.v1", marker, key=b"k")
        spoofed = detection(tenant, "spoof").model_dump_json().encode()
        await producer.send_and_wait(
            "detections.v1", spoofed, key=b"k", headers=[("ce_tenantid", b"another-tenant")]
        )
        # With a field this version does not know, as a newer ingest may add one.
        published = {**json.loads(good.model_dump_json()), "sensor_site": "hq"}
        await producer.send_and_wait("detections.v1", json.dumps(published).encode(), key=b"k")
    finally:
        await producer.stop()

    dead = await read_until(
        kafka_settings.bootstrap_servers,
        "detections.dlq.v1",
        lambda record: record.value in (marker, spoofed),
        count=2,
    )
    letters = {record.value: dict(record.headers) for record in dead}
    assert b"Invalid JSON" in letters[marker]["dlq_reason"]
    assert letters[marker]["dlq_source_topic"] == b"detections.v1"
    assert letters[marker]["dlq_offset"].isdigit()
    assert b"does not match the payload" in letters[spoofed]["dlq_reason"]

    stored = await stored_detection_ids(sessions, tenant)
    assert stored == ["good-1"]
    # Stored as published, the unknown field too: the message's own text, not what this
    # version re-serializes of it.
    async with sessions() as session:
        document = await session.scalar(
            text("SELECT detection FROM alerts WHERE tenant_id = :t"), {"t": tenant}
        )
    assert document == json.dumps(published)


async def test_a_detection_postgres_refuses_is_dead_lettered_not_retried_forever(
    alerting: None, kafka_settings: KafkaSettings, sessions: SessionFactory, tenant: str
) -> None:
    # JSON allows \u0000 in strings; a Postgres text column does not (SQLSTATE 22021).
    poison = detection(tenant, "poison").model_copy(update={"title": "a\x00b"})
    poison_bytes = poison.model_dump_json().encode()
    good = detection(tenant, "fine", minutes=1)
    # Inside the raw payload a NUL is stored: the detection is kept as its JSON text.
    raw_nul = detection(tenant, "raw-nul", minutes=2).model_copy(update={"raw": {"note": "a\x00b"}})
    producer = AIOKafkaProducer(bootstrap_servers=kafka_settings.bootstrap_servers)
    await producer.start()
    try:
        batch = [
            await producer.send("detections.v1", payload, key=b"same-partition")
            for payload in (
                poison_bytes,
                good.model_dump_json().encode(),
                raw_nul.model_dump_json().encode(),
            )
        ]
        await asyncio.gather(*batch)
    finally:
        await producer.stop()

    (letter,) = await read_until(
        kafka_settings.bootstrap_servers,
        "detections.dlq.v1",
        lambda record: record.value == poison_bytes,
        count=1,
    )
    assert b"refused by the database" in dict(letter.headers)["dlq_reason"]
    stored = await stored_detection_ids(sessions, tenant, at_least=2)
    assert stored == ["fine", "raw-nul"]
