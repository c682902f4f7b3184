"""Sources that sign their deliveries (Standard Webhooks) instead of sending a key."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from standardwebhooks.webhooks import Webhook

from libs.common.settings import KafkaSettings
from services.ingest.app import create_app
from services.ingest.settings import IngestSection, IngestSettings
from services.ingest.signed_sources import SignedSource
from tests.support.corpus import read_detections
from tests.support.http_server import serve
from tests.support.kafka import header, read_until

SECRET = "whsec_" + base64.b64encode(os.urandom(32)).decode()


@pytest.fixture
async def client(kafka_settings: KafkaSettings, tenant: str) -> AsyncIterator[httpx.AsyncClient]:
    section = IngestSection(
        signed_sources=[SignedSource(name="splunk-prod", tenant=tenant, secret=SecretStr(SECRET))],
        consume_raw_topic=False,
    )
    app = create_app(IngestSettings(kafka=kafka_settings, ingest=section))
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as c:
        yield c


@pytest.fixture(scope="module")
def detection(shared_data: Path) -> dict[str, Any]:
    return next(iter(read_detections(shared_data / "detections" / "sigma_regression.jsonl.gz")))


def signed(body: bytes, *, secret: str = SECRET, at: datetime | None = None) -> dict[str, str]:
    when = at or datetime.now(UTC)
    message_id = f"msg_{os.urandom(6).hex()}"
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, when, body.decode()),
    }


async def test_a_signed_delivery_is_accepted_for_the_sources_tenant(
    client: httpx.AsyncClient,
    detection: dict[str, Any],
    kafka_settings: KafkaSettings,
    tenant: str,
) -> None:
    body = json.dumps(detection).encode()
    response = await client.post("/api/v1/webhooks/splunk-prod", content=body, headers=signed(body))
    assert response.status_code == 202
    assert response.json()["accepted"] == 1
    (record,) = await read_until(
        kafka_settings.bootstrap_servers,
        "detections.v1",
        lambda r: header(r, "ce_tenantid") == tenant.encode(),
        count=1,
    )
    assert json.loads(record.value)["detection_id"] == detection["detection_id"]


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("wrong-secret", "No matching signature found"),
        ("stale", "Message timestamp too old"),
        ("tampered", "No matching signature found"),
        ("unsigned", "Missing required headers"),
    ],
)
async def test_bad_signatures_are_refused_and_nothing_is_accepted(
    client: httpx.AsyncClient, detection: dict[str, Any], case: str, message: str
) -> None:
    body = json.dumps(detection).encode()
    other = "whsec_" + base64.b64encode(os.urandom(32)).decode()
    headers = {
        "wrong-secret": signed(body, secret=other),
        "stale": signed(body, at=datetime.now(UTC) - timedelta(minutes=10)),
        "tampered": signed(body),
        "unsigned": {"content-type": "application/json"},
    }[case]
    sent = body.replace(b'"sigma"', b'"forged"') if case == "tampered" else body
    response = await client.post("/api/v1/webhooks/splunk-prod", content=sent, headers=headers)
    assert response.status_code == 401
    assert message in response.json()["message"]


async def test_an_unknown_source_is_404(client: httpx.AsyncClient) -> None:
    body = b"{}"
    response = await client.post("/api/v1/webhooks/nobody", content=body, headers=signed(body))
    assert response.status_code == 404
