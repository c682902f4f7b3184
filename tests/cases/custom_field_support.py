"""A cases API with tenant admins on both sides (the test's tenant and the outsider's), so
custom-field tests can define fields in two tenants and check that they never mix."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from libs.common.settings import ApiCredential, KafkaSettings
from tests.cases.conftest import ADMIN_HEADERS, cases_settings, serve_cases

OTHER_ADMIN = "other-admin-key"
OTHER_ADMIN_HEADERS = {"authorization": f"Bearer {OTHER_ADMIN}"}
OUTSIDER_HEADERS = {"authorization": "Bearer outsider-key"}


@pytest.fixture
async def api(
    kafka_settings: KafkaSettings, database_url: str, tenant: str
) -> AsyncIterator[httpx.AsyncClient]:
    settings = cases_settings(kafka_settings, database_url, tenant)
    settings.cases.admin_api_keys.append(
        ApiCredential(key=SecretStr(OTHER_ADMIN), tenant=f"{tenant}-other", name="eve-admin")
    )
    async with serve_cases(settings) as client:
        yield client


async def define(
    client: httpx.AsyncClient,
    key: str,
    spec: dict[str, Any],
    headers: dict[str, str] = ADMIN_HEADERS,
) -> httpx.Response:
    response = await client.put(f"/api/v1/admin/custom-fields/{key}", json=spec, headers=headers)
    return response


EVERY_TYPE: dict[str, dict[str, Any]] = {
    "ticket": {"type": "text", "label": "Ticket", "max_length": 10},
    "hosts": {"type": "int", "label": "Hosts affected"},
    "loss": {"type": "number", "label": "Loss (EUR)"},
    "vip": {"type": "bool", "label": "VIP involved"},
    "due_on": {"type": "date", "label": "Due on"},
    "seen_at": {"type": "timestamp", "label": "First seen"},
    "region": {"type": "select", "label": "Region", "options": ["emea", "apac", "amer"]},
    "vectors": {
        "type": "multi_select",
        "label": "Vectors",
        "options": ["email", "usb", "web"],
    },
    "extra": {"type": "json", "label": "Extra"},
}


async def define_every_type(client: httpx.AsyncClient) -> None:
    for key, spec in EVERY_TYPE.items():
        response = await define(client, key, spec)
        assert response.status_code == 201, response.text
