"""The cases API over real HTTP for every test in this folder: an analyst of the test's
tenant (the default credential), an outsider from another tenant, and the tenant's admin
(send `ADMIN_HEADERS`)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr

from libs.common.settings import ApiCredential, DatabaseSettings, KafkaSettings
from services.cases.app import create_app
from services.cases.settings import CasesSection, CasesSettings
from tests.support.http_server import serve

ANALYST, OUTSIDER, ADMIN = "analyst-key", "outsider-key", "admin-key"
ADMIN_HEADERS = {"authorization": f"Bearer {ADMIN}"}


@pytest.fixture
async def client(
    kafka_settings: KafkaSettings, database_url: str, tenant: str
) -> AsyncIterator[httpx.AsyncClient]:
    settings = CasesSettings(
        kafka=kafka_settings,
        database=DatabaseSettings(url=SecretStr(database_url)),
        cases=CasesSection(
            api_keys=[
                ApiCredential(key=SecretStr(ANALYST), tenant=tenant, name="ana"),
                ApiCredential(key=SecretStr(OUTSIDER), tenant=f"{tenant}-other", name="eve"),
            ],
            admin_api_keys=[ApiCredential(key=SecretStr(ADMIN), tenant=tenant, name="root")],
        ),
    )
    async with (
        serve(create_app(settings)) as url,
        httpx.AsyncClient(base_url=url, headers={"authorization": f"Bearer {ANALYST}"}) as c,
    ):
        yield c
