"""Source credentials: a tenant admin issues a key (shown once), the source uses it,
the admin revokes it and the source is locked out."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from libs.common.settings import ApiCredential, DatabaseSettings, KafkaSettings
from services.ingest.app import create_app
from services.ingest.settings import IngestSection, IngestSettings
from tests.support.corpus import read_detections
from tests.support.http_server import serve

ADMIN, OTHER_ADMIN, SOURCE_KEY = "admin-key", "other-admin-key", "static-source-key"


@pytest.fixture
async def client(
    kafka_settings: KafkaSettings, database_url: str, tenant: str
) -> AsyncIterator[httpx.AsyncClient]:
    section = IngestSection(
        api_keys=[ApiCredential(key=SecretStr(SOURCE_KEY), tenant=tenant, name="siem")],
        admin_api_keys=[
            ApiCredential(key=SecretStr(ADMIN), tenant=tenant, name="alice"),
            ApiCredential(key=SecretStr(OTHER_ADMIN), tenant=f"{tenant}-b", name="bob"),
        ],
        issued_key_cache_seconds=0,  # revocation visible at once in tests
        consume_raw_topic=False,
    )
    settings = IngestSettings(
        kafka=kafka_settings,
        database=DatabaseSettings(url=SecretStr(database_url)),
        ingest=section,
    )
    async with serve(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as c:
        yield c


@pytest.fixture(scope="module")
def detection(shared_data: Path) -> dict[str, Any]:
    return next(iter(read_detections(shared_data / "detections" / "sigma_regression.jsonl.gz")))


def bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


async def test_issued_key_works_until_revoked(
    client: httpx.AsyncClient, detection: dict[str, Any]
) -> None:
    issued = await client.post(
        "/api/v1/admin/api-keys", json={"source": "splunk-prod"}, headers=bearer(ADMIN)
    )
    assert issued.status_code == 201
    body = issued.json()
    assert body["key"].startswith(f"csk_{body['prefix']}_")
    assert (body["source"], body["created_by"], body["revoked_at"]) == (
        "splunk-prod",
        "alice",
        None,
    )

    post = await client.post("/api/v1/detections", json=detection, headers=bearer(body["key"]))
    assert post.status_code == 202

    listed = (await client.get("/api/v1/admin/api-keys", headers=bearer(ADMIN))).json()
    assert [k["id"] for k in listed] == [body["id"]]
    assert "key" not in listed[0]  # shown once, never again

    revoked = await client.delete(f"/api/v1/admin/api-keys/{body['id']}", headers=bearer(ADMIN))
    assert revoked.status_code == 204
    refused = await client.post("/api/v1/detections", json=detection, headers=bearer(body["key"]))
    assert refused.status_code == 401


async def test_admins_manage_only_their_tenant(client: httpx.AsyncClient) -> None:
    issued = (
        await client.post("/api/v1/admin/api-keys", json={"source": "wazuh"}, headers=bearer(ADMIN))
    ).json()
    other = bearer(OTHER_ADMIN)
    assert (await client.get("/api/v1/admin/api-keys", headers=other)).json() == []
    response = await client.delete(f"/api/v1/admin/api-keys/{issued['id']}", headers=other)
    assert response.status_code == 404


@pytest.mark.parametrize("key", [SOURCE_KEY, "csk_00000000_forged", None])
async def test_admin_routes_need_an_admin_key(client: httpx.AsyncClient, key: str | None) -> None:
    headers = bearer(key) if key else {}
    response = await client.post("/api/v1/admin/api-keys", json={"source": "x"}, headers=headers)
    assert response.status_code == 401


async def test_revoking_an_unknown_key_is_404(client: httpx.AsyncClient) -> None:
    response = await client.delete(f"/api/v1/admin/api-keys/{uuid.uuid4()}", headers=bearer(ADMIN))
    assert (response.status_code, response.json()["code"]) == (404, "not_found")


async def test_source_names_are_validated(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/admin/api-keys", json={"source": "bad name; drop"}, headers=bearer(ADMIN)
    )
    assert response.status_code == 422
