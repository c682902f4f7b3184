"""The Kafka way in: detections.raw.v1 is validated like HTTP input; what cannot become a
detection goes to the DLQ with its original bytes and the reason."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from libs.common.settings import KafkaSettings
from services.ingest.app import create_app
from services.ingest.settings import IngestSection, IngestSettings
from tests.support.corpus import read_detections
from tests.support.http_server import serve
from tests.support.kafka import header, read_until


@pytest.fixture
async def ingest(kafka_settings: KafkaSettings) -> AsyncIterator[None]:
    section = IngestSection(
        raw_consumer_group=f"ingest-raw-{uuid.uuid4().hex}", max_detection_bytes=50_000
    )
    async with serve(create_app(IngestSettings(kafka=kafka_settings, ingest=section))):
        yield


async def test_raw_records_are_normalized_or_dead_lettered(
    ingest: None, kafka_settings: KafkaSettings, shared_data: Path, tenant: str
) -> None:
    sample: dict[str, Any] = next(
        iter(read_detections(shared_data / "detections" / "sigma_regression.jsonl.gz"))
    )
    good = {**sample, "detection_id": f"raw-{tenant}"}
    tagged = [("ce_tenantid", tenant.encode())]
    untenanted = json.dumps({**sample, "detection_id": f"orphan-{tenant}"}).encode()
    not_json = f"garbage {tenant}".encode()
    invalid = json.dumps({"detection_id": f"bad-{tenant}", "rule": {}}).encode()
    oversized = json.dumps({**sample, "event": {"Payload": "A" * 60_000}}).encode()
    with_nul = json.dumps({**sample, "detection_id": f"nul-{tenant}", "event": {"x": "\0"}})
    producer = AIOKafkaProducer(bootstrap_servers=kafka_settings.bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait("detections.raw.v1", json.dumps(good).encode(), headers=tagged)
        await producer.send_and_wait("detections.raw.v1", untenanted)
        await producer.send_and_wait("detections.raw.v1", not_json, headers=tagged)
        await producer.send_and_wait("detections.raw.v1", invalid, headers=tagged)
        await producer.send_and_wait("detections.raw.v1", oversized, headers=tagged)
        await producer.send_and_wait("detections.raw.v1", with_nul.encode(), headers=tagged)
    finally:
        await producer.stop()

    (published,) = await read_until(
        kafka_settings.bootstrap_servers,
        "detections.v1",
        lambda r: header(r, "ce_tenantid") == tenant.encode(),
        count=1,
    )
    published_detection = json.loads(published.value)
    assert published_detection["detection_id"] == f"raw-{tenant}"
    # The record's place in the topic names the occurrence: a redelivery is the same one.
    assert published_detection["occurrence_id"].startswith("detections.raw.v1/")

    originals = {untenanted, not_json, invalid, oversized, with_nul.encode()}
    letters = await read_until(
        kafka_settings.bootstrap_servers,
        "detections.dlq.v1",
        lambda r: r.value in originals,
        count=5,
    )
    reasons = {r.value: header(r, "dlq_reason") or b"" for r in letters}
    assert reasons[untenanted].startswith(b"missing_tenant")
    assert reasons[not_json].startswith(b"invalid_json")
    assert reasons[invalid].startswith(b"invalid_detection: no known format matched")
    assert reasons[oversized].startswith(b"detection_too_large: ")
    assert reasons[with_nul.encode()].startswith(b"invalid_detection: a value holds a NUL")
    assert {header(r, "dlq_source_topic") for r in letters} == {b"detections.raw.v1"}
