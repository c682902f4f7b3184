"""Each correlation type end to end: detections published on detections.v1, consumed by
the real alerting app (one Tansu broker, real Postgres), correlation alerts in cases and
on alerts.v1; and a batch published twice raises one correlation alert."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from pydantic import SecretStr
from sqlalchemy import text

from libs.common.contracts.detections import DetectionV1
from libs.common.db.engine import SessionFactory
from libs.common.settings import DatabaseSettings, KafkaSettings
from services.alerting.app import create_app
from services.alerting.correlation.settings import CorrelationSettings
from services.alerting.settings import AlertingSection, AlertingSettings
from tests.alerting.correlation.support import (
    RULES,
    by_user,
    correlation_alerts,
    matched_ids,
    with_raw,
)
from tests.support.detections import detection
from tests.support.kafka import read_until

CASES = ("count", "ordered", "join", "baseline", "missing", "redelivery")


@dataclass
class Running:
    kafka: KafkaSettings
    tenants: dict[str, str]  # test case -> its tenant, each with the rules of support.RULES


@pytest.fixture(scope="module")
async def alerting(
    kafka_settings: KafkaSettings, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Running]:
    """One alerting app for the module; every test has a tenant of its own."""
    rules_dir: Path = tmp_path_factory.mktemp("correlation-rules")
    tenants = {case: f"t-{case}-{uuid.uuid4().hex[:8]}" for case in CASES}
    for tenant in tenants.values():
        (rules_dir / f"{tenant}.yaml").write_text(RULES)
    settings = AlertingSettings(
        kafka=kafka_settings,
        database=DatabaseSettings(url=SecretStr(database_url)),
        alerting=AlertingSection(
            consumer_group=f"alerting-corr-{uuid.uuid4().hex}",
            correlation=CorrelationSettings(rules_dir=rules_dir),
        ),
    )
    app = create_app(settings)
    await app.start()
    yield Running(kafka_settings, tenants)
    await app.stop()


async def publish(kafka: KafkaSettings, tenant: str, detections: list[DetectionV1]) -> None:
    """In this order, on one partition (one key), so the consumer sees them in order."""
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers)
    await producer.start()
    try:
        sent = [
            await producer.send("detections.v1", d.model_dump_json().encode(), key=tenant.encode())
            for d in detections
        ]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def wait_for_alerts(
    sessions: SessionFactory, tenant: str, count: int = 1
) -> list[dict[str, Any]]:
    async with asyncio.timeout(30):
        while True:
            found = await correlation_alerts(sessions, tenant)
            if len(found) >= count:
                return found
            await asyncio.sleep(0.2)


async def test_event_count_end_to_end(alerting: Running, sessions: SessionFactory) -> None:
    tenant = alerting.tenants["count"]
    batch = [
        by_user(tenant, f"fail-{n}", "alice", rule="failed-logon", host=f"ws{n}", minutes=n)
        for n in range(3)
    ]
    await publish(alerting.kafka, tenant, batch)
    (alert,) = await wait_for_alerts(sessions, tenant)
    assert matched_ids(alert) == ["fail-0", "fail-1", "fail-2"]
    assert alert["case_title"] == "Password spray against alice"
    (emitted,) = await read_until(
        alerting.kafka.bootstrap_servers,
        "alerts.v1",
        lambda r: json.loads(r.value)["detection_id"] == alert["detection_id"],
        count=1,
    )
    assert json.loads(emitted.value)["rule"]["id"] == "spray"


async def test_temporal_ordered_end_to_end(alerting: Running, sessions: SessionFactory) -> None:
    tenant = alerting.tenants["ordered"]
    steps = [("discovery", 0), ("execution", 10), ("persistence", 20)]
    batch = [detection(tenant, rule, rule=rule, host="srv1", minutes=m) for rule, m in steps]
    await publish(alerting.kafka, tenant, batch[::-1])  # arrival order does not matter
    (alert,) = await wait_for_alerts(sessions, tenant)
    assert matched_ids(alert) == ["discovery", "execution", "persistence"]
    assert alert["detection"]["host"] == "srv1"


async def test_join_end_to_end(alerting: Running, sessions: SessionFactory) -> None:
    tenant = alerting.tenants["join"]
    batch = [
        with_raw(tenant, "click", {"session": "s-42"}, rule="phish-click", host="laptop"),
        with_raw(tenant, "other", {"session": "s-43"}, rule="download", host="laptop", minutes=1),
        with_raw(tenant, "dl", {"session": "s-42"}, rule="download", host="proxy", minutes=5),
    ]
    await publish(alerting.kafka, tenant, batch)
    (alert,) = await wait_for_alerts(sessions, tenant)
    assert matched_ids(alert) == ["click", "dl"]
    assert alert["group_key"] == "correlation=same-session|raw.session=s-42"


async def test_baseline_deviation_end_to_end(alerting: Running, sessions: SessionFactory) -> None:
    tenant = alerting.tenants["baseline"]
    usual = [by_user(tenant, f"h{h}", "bob", rule="logon", minutes=h * 60) for h in range(4)]
    spike = [by_user(tenant, f"s{n}", "bob", rule="logon", minutes=240 + n) for n in range(6)]
    await publish(alerting.kafka, tenant, usual + spike)
    (alert,) = await wait_for_alerts(sessions, tenant)
    assert matched_ids(alert) == [f"s{n}" for n in range(6)]
    details = alert["detection"]["raw"]["correlation"]["details"]
    assert (details["count"], details["mean"], details["threshold"]) == (6, 1.0, 4.0)


async def test_missing_event_end_to_end(alerting: Running, sessions: SessionFactory) -> None:
    tenant = alerting.tenants["missing"]
    batch = [
        detection(tenant, "backup-1", rule="backup-start", host="db1"),
        detection(tenant, "backup-2", rule="backup-start", host="db2"),
        detection(tenant, "done-2", rule="backup-end", host="db2", minutes=25),
        # Anything later than the window moves the tenant's event time on.
        detection(tenant, "later", rule="unrelated", host="ws1", minutes=45),
    ]
    await publish(alerting.kafka, tenant, batch)
    (alert,) = await wait_for_alerts(sessions, tenant)
    assert matched_ids(alert) == ["backup-1"]
    assert alert["case_title"] == "Backup started but never finished: db1"


async def test_a_batch_published_twice_raises_one_alert(
    alerting: Running, sessions: SessionFactory
) -> None:
    tenant = alerting.tenants["redelivery"]
    batch = [
        by_user(tenant, f"fail-{n}", "carol", rule="failed-logon", minutes=n) for n in range(4)
    ]
    await publish(alerting.kafka, tenant, batch)
    await wait_for_alerts(sessions, tenant)
    marker = detection(tenant, "marker", rule="unrelated", minutes=1)
    await publish(alerting.kafka, tenant, [*batch, marker])
    async with asyncio.timeout(30):  # the marker comes after the copies on one partition
        while True:
            if await stored(sessions, tenant, "marker"):
                break
            await asyncio.sleep(0.2)
    assert len(await correlation_alerts(sessions, tenant)) == 1


async def stored(sessions: SessionFactory, tenant: str, detection_id: str) -> bool:
    async with sessions() as session:
        found = await session.scalar(
            text("SELECT 1 FROM alerts WHERE tenant_id = :t AND detection_id = :d"),
            {"t": tenant, "d": detection_id},
        )
    return found is not None
