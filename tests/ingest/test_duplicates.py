"""The dedup window on the real Redis: a detection id accepted again is answered
`duplicate`, still published (alerting counts it), and never an error."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from libs.common.settings import ApiCredential, KafkaSettings, RedisSettings
from libs.embedded.ports import free_port
from libs.embedded.tansu import TansuBroker
from services.ingest.app import create_app
from services.ingest.settings import IngestSection, IngestSettings
from tests.support.corpus import read_detections
from tests.support.http_server import serve
from tests.support.kafka import header, read_until

KEY = "dedup-test-key"
AUTH = {"authorization": f"Bearer {KEY}"}


def settings_for(kafka: KafkaSettings, redis_url: str, tenant: str) -> IngestSettings:
    return IngestSettings(
        kafka=kafka,
        redis=RedisSettings(url=SecretStr(redis_url)),
        ingest=IngestSection(
            api_keys=[ApiCredential(key=SecretStr(KEY), tenant=tenant, name="siem")],
            consume_raw_topic=False,
        ),
    )


@pytest.fixture
async def client(
    kafka_settings: KafkaSettings, redis_url: str, tenant: str
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings_for(kafka_settings, redis_url, tenant))
    async with serve(app) as url, httpx.AsyncClient(base_url=url, headers=AUTH) as c:
        yield c


@pytest.fixture(scope="module")
def samples(shared_data: Path) -> list[dict[str, Any]]:
    return list(read_detections(shared_data / "detections" / "sigma_regression.jsonl.gz"))[:5]


def statuses(response: httpx.Response) -> list[str]:
    return [item["status"] for item in response.json()["items"]]


async def test_a_repeat_is_reported_duplicate_and_still_published(
    client: httpx.AsyncClient,
    samples: list[dict[str, Any]],
    kafka_settings: KafkaSettings,
    tenant: str,
) -> None:
    first = await client.post("/api/v1/detections", json=samples[:2])
    again = await client.post("/api/v1/detections", json=[samples[0], samples[2], samples[2]])
    assert first.status_code == again.status_code == 202
    assert statuses(again) == ["duplicate", "accepted", "duplicate"]
    body = again.json()
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (1, 2, 0)
    assert body["items"][0]["reason"].startswith("duplicate: ")
    records = await read_until(
        kafka_settings.bootstrap_servers,
        "detections.v1",
        lambda record: header(record, "ce_tenantid") == tenant.encode(),
        5,
    )
    published = [json.loads(record.value) for record in records]
    # Every occurrence travels on, each under its own occurrence id, for alerting to count.
    assert sorted(p["detection_id"] for p in published) == sorted(
        [samples[0]["detection_id"]] * 2
        + [samples[1]["detection_id"]]
        + [samples[2]["detection_id"]] * 2
    )
    assert len({p["occurrence_id"] for p in published}) == 5


async def test_tenants_have_their_own_window(
    kafka_settings: KafkaSettings, redis_url: str, samples: list[dict[str, Any]], tenant: str
) -> None:
    for name in (tenant, f"{tenant}-other"):
        app = create_app(settings_for(kafka_settings, redis_url, name))
        async with serve(app) as url, httpx.AsyncClient(base_url=url, headers=AUTH) as c:
            response = await c.post("/api/v1/detections", json=samples[3])
            assert statuses(response) == ["accepted"]


async def test_what_the_broker_refused_is_not_a_duplicate_on_retry(
    run_dir: Path,
    kafka_settings: KafkaSettings,
    redis_url: str,
    samples: list[dict[str, Any]],
    tenant: str,
) -> None:
    dead = TansuBroker(run_dir / "tansu-dedup")
    dead.start()
    refusing = create_app(
        settings_for(KafkaSettings(bootstrap_servers=dead.bootstrap_servers), redis_url, tenant)
    )
    async with serve(refusing) as url:
        dead.stop()
        async with httpx.AsyncClient(base_url=url, headers=AUTH, timeout=60) as c:
            assert (await c.post("/api/v1/detections", json=samples[4])).status_code == 503
    working = create_app(settings_for(kafka_settings, redis_url, tenant))
    async with serve(working) as url, httpx.AsyncClient(base_url=url, headers=AUTH) as c:
        assert statuses(await c.post("/api/v1/detections", json=samples[4])) == ["accepted"]


async def test_without_redis_repeats_are_accepted_not_lost(
    kafka_settings: KafkaSettings, samples: list[dict[str, Any]], tenant: str
) -> None:
    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    app = create_app(settings_for(kafka_settings, nowhere, tenant))
    async with serve(app) as url, httpx.AsyncClient(base_url=url, headers=AUTH) as c:
        for _ in range(2):
            response = await c.post("/api/v1/detections", json=samples[0])
            assert response.status_code == 202
            assert statuses(response) == ["accepted"]
