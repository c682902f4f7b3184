"""A cases API with an object store (the suite's SeaweedFS) and a 10 MiB attachment
limit, and what attachment tests look at: the objects under a case's key prefix and the
case's attachment, audit and outbox rows."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import text

from libs.common.db.engine import SessionFactory, transaction
from libs.common.objectstore import ObjectStore, tenant_key_prefix
from libs.common.settings import KafkaSettings, ObjectStoreSettings
from tests.cases.conftest import OUTSIDER, cases_settings, serve_cases
from tests.conftest import TEST_PART_SIZE

LIMIT = 2 * TEST_PART_SIZE  # 10 MiB: room for a two-part multipart upload below it
OUTSIDER_HEADERS = {"authorization": f"Bearer {OUTSIDER}"}


@pytest.fixture
async def api(
    kafka_settings: KafkaSettings,
    database_url: str,
    tenant: str,
    object_store_settings: ObjectStoreSettings,
) -> AsyncIterator[httpx.AsyncClient]:
    settings = cases_settings(
        kafka_settings,
        database_url,
        tenant,
        object_store=object_store_settings,
        max_attachment_bytes=LIMIT,
    )
    async with serve_cases(settings) as client:
        # An upload is several requests to the store besides the database: more than
        # the 5 s default on a loaded two-core machine.
        client.timeout = httpx.Timeout(60)
        yield client


@pytest.fixture
async def objects(object_store_settings: ObjectStoreSettings) -> AsyncIterator[ObjectStore]:
    store = ObjectStore(object_store_settings)
    yield store
    await store.close()


async def new_case(client: httpx.AsyncClient) -> str:
    response = await client.post("/api/v1/cases", json={"title": "phishing wave"})
    assert response.status_code == 201, response.text
    case_id: str = response.json()["id"]
    return case_id


async def upload(
    client: httpx.AsyncClient,
    case_id: str,
    content: bytes,
    filename: str = "evidence.bin",
    content_type: str = "application/octet-stream",
    **kwargs: object,
) -> httpx.Response:
    files = {"file": (filename, content, content_type)}
    return await client.post(f"/api/v1/cases/{case_id}/attachments", files=files, **kwargs)  # type: ignore[arg-type]


async def stored_keys(objects: ObjectStore, tenant: str, case_id: str) -> list[str]:
    return await objects.keys_under(f"{tenant_key_prefix(tenant)}{case_id}/")


async def counts(sessions: SessionFactory, tenant: str, case_id: str) -> dict[str, int]:
    """Attachment rows, audit events and outbox rows of the case."""
    async with transaction(sessions) as session:
        row = (
            await session.execute(
                text(
                    "SELECT (SELECT count(*) FROM case_attachments WHERE tenant_id = :t"
                    " AND case_id = :c) AS attachments,"
                    " (SELECT count(*) FROM case_events WHERE tenant_id = :t AND case_id = :c)"
                    " AS events,"
                    " (SELECT count(*) FROM outbox WHERE tenant_id = :t AND key = :k) AS outbox"
                ),
                {"t": tenant, "c": uuid.UUID(case_id), "k": case_id},
            )
        ).one()
    return {"attachments": row.attachments, "events": row.events, "outbox": row.outbox}
