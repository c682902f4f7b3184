"""The cases API over real HTTP for every test in this folder: an analyst of the test's
tenant (the default credential), an outsider from another tenant, and the tenant's admin
(send `ADMIN_HEADERS`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from pydantic import SecretStr

from libs.common.settings import (
    ApiCredential,
    DatabaseSettings,
    KafkaSettings,
    ObjectStoreSettings,
    OutboxSettings,
)
from services.cases.app import create_app
from services.cases.settings import (
    CasesSection,
    CasesSettings,
    RetentionPurgerSettings,
    SlaScannerSettings,
)
from tests.support.http_server import serve

ANALYST, OUTSIDER, ADMIN = "analyst-key", "outsider-key", "admin-key"
ADMIN_HEADERS = {"authorization": f"Bearer {ADMIN}"}


def cases_settings(
    kafka: KafkaSettings,
    database_url: str,
    tenant: str,
    scanner: SlaScannerSettings | None = None,
    purger: RetentionPurgerSettings | None = None,
    object_store: ObjectStoreSettings | None = None,
    max_attachment_bytes: int = 25 * 1024 * 1024,
) -> CasesSettings:
    return CasesSettings(
        kafka=kafka,
        database=DatabaseSettings(url=SecretStr(database_url)),
        object_store=object_store or ObjectStoreSettings(),
        # Sent rows kept (the relay deletes them by default), so a test can still count
        # each change's outbox row after the relay published it.
        outbox=OutboxSettings(keep_sent_seconds=3_600),
        cases=CasesSection(
            max_attachment_bytes=max_attachment_bytes,
            api_keys=[
                ApiCredential(key=SecretStr(ANALYST), tenant=tenant, name="ana"),
                ApiCredential(key=SecretStr(OUTSIDER), tenant=f"{tenant}-other", name="eve"),
            ],
            admin_api_keys=[ApiCredential(key=SecretStr(ADMIN), tenant=tenant, name="root")],
            # Off unless a test asks: a scanner racing the test's own scans would make
            # them flaky (tests/cases/test_sla_scanner.py runs one in the lifespan).
            sla_scanner=scanner or SlaScannerSettings(enabled=False),
            # Likewise the retention purger (tests/cases/test_retention*.py drive their own).
            retention_purger=purger or RetentionPurgerSettings(enabled=False),
        ),
    )


@asynccontextmanager
async def serve_cases(settings: CasesSettings) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        serve(create_app(settings)) as url,
        httpx.AsyncClient(base_url=url, headers={"authorization": f"Bearer {ANALYST}"}) as c,
    ):
        yield c


@pytest.fixture
async def client(
    kafka_settings: KafkaSettings, database_url: str, tenant: str
) -> AsyncIterator[httpx.AsyncClient]:
    async with serve_cases(cases_settings(kafka_settings, database_url, tenant)) as c:
        yield c
