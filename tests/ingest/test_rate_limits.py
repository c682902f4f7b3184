"""Rate limits per key and per tenant on the real Redis: over the limit is a 429 with
Retry-After and nothing accepted; never a silent drop."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from libs.common.ratelimit import DetectionRateLimiter
from libs.common.settings import ApiCredential, KafkaSettings, RedisSettings
from libs.embedded.ports import free_port
from services.ingest.app import create_app
from services.ingest.settings import IngestSection, IngestSettings
from tests.support.corpus import read_detections
from tests.support.http_server import serve

KEY_A, KEY_B = "limit-key-a", "limit-key-b"


@pytest.fixture
async def client(
    kafka_settings: KafkaSettings, redis_url: str, tenant: str
) -> AsyncIterator[httpx.AsyncClient]:
    section = IngestSection(
        api_keys=[
            ApiCredential(key=SecretStr(KEY_A), tenant=tenant, name="a"),
            ApiCredential(key=SecretStr(KEY_B), tenant=tenant, name="b"),
        ],
        rate_limit_per_key="4/minute",
        rate_limit_per_tenant="6/minute",
        consume_raw_topic=False,
    )
    settings = IngestSettings(
        kafka=kafka_settings, redis=RedisSettings(url=SecretStr(redis_url)), ingest=section
    )
    async with (
        serve(create_app(settings)) as url,
        httpx.AsyncClient(base_url=url) as c,
    ):
        yield c


@pytest.fixture(scope="module")
def samples(shared_data: Path) -> list[dict[str, Any]]:
    return list(read_detections(shared_data / "detections" / "sigma_regression.jsonl.gz"))[:10]


async def post(
    client: httpx.AsyncClient, key: str, documents: list[dict[str, Any]]
) -> httpx.Response:
    return await client.post(
        "/api/v1/detections", json=documents, headers={"authorization": f"Bearer {key}"}
    )


async def test_a_key_over_its_limit_gets_429_with_retry_after(
    client: httpx.AsyncClient, samples: list[dict[str, Any]]
) -> None:
    assert (await post(client, KEY_A, samples[:3])).status_code == 202
    refused = await post(client, KEY_A, samples[3:5])  # 3 + 2 > 4 per key
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    body = refused.json()
    assert (body["code"], body["details"]["scope"]) == ("rate_limited", "key")
    # The refused request counted nothing: one more detection still fits.
    assert (await post(client, KEY_A, samples[5:6])).status_code == 202


async def test_the_tenant_limit_spans_its_keys(
    client: httpx.AsyncClient, samples: list[dict[str, Any]]
) -> None:
    assert (await post(client, KEY_A, samples[:4])).status_code == 202
    refused = await post(client, KEY_B, samples[4:7])  # 4 + 3 > 6 per tenant
    assert refused.status_code == 429
    assert refused.json()["details"]["scope"] == "tenant"


async def test_an_unreachable_redis_lets_traffic_through() -> None:
    limiter = DetectionRateLimiter(f"redis://127.0.0.1:{free_port()}/0", "1/minute", "1/minute")
    await limiter.consume("t", "k", 5)  # no exception: fail open (and logged)
