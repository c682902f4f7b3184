"""Case attachments over real HTTP, on real Postgres and a real SeaweedFS S3 store: what
goes in comes out byte for byte, is audited once per change, stays in its tenant, and
leaves nothing behind when it is refused."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import text

from libs.common.db.engine import SessionFactory, transaction
from libs.common.objectstore import ObjectStore, tenant_key_prefix
from libs.common.settings import KafkaSettings, ObjectStoreSettings
from tests.cases.conftest import ADMIN_HEADERS, OUTSIDER, cases_settings, serve_cases
from tests.conftest import TEST_PART_SIZE

LIMIT = 2 * TEST_PART_SIZE  # 10 MiB: room for a two-part multipart upload below it
OUTSIDER_HEADERS = {"authorization": f"Bearer {OUTSIDER}"}


@pytest.fixture
async def client(
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
    async with serve_cases(settings) as c:
        yield c


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


async def test_an_attachment_round_trips_byte_for_byte(
    client: httpx.AsyncClient, objects: ObjectStore, sessions: SessionFactory, tenant: str
) -> None:
    case_id = await new_case(client)
    before = await counts(sessions, tenant, case_id)
    content = os.urandom(300_000) + b"\x00\r\n--not-a-boundary\r\n"
    added = await upload(client, case_id, content, "../../etc/Rapport é.pdf", "application/pdf")
    assert added.status_code == 201, added.text
    attachment = added.json()
    assert attachment["filename"] == "Rapport é.pdf"
    assert attachment["content_type"] == "application/pdf"
    assert attachment["size_bytes"] == len(content)
    assert attachment["sha256"] == hashlib.sha256(content).hexdigest()
    assert attachment["uploaded_by"] == "ana"

    base = f"/api/v1/cases/{case_id}/attachments"
    assert (await client.get(base)).json() == {"items": [attachment]}
    assert (await client.get(f"{base}/{attachment['id']}")).json() == attachment
    download = await client.get(f"{base}/{attachment['id']}/content")
    assert download.status_code == 200
    assert download.content == content
    assert download.headers["content-type"] == "application/pdf"
    assert download.headers["x-content-type-options"] == "nosniff"
    assert download.headers["content-disposition"] == (
        "attachment; filename=\"Rapport e.pdf\"; filename*=UTF-8''Rapport%20%C3%A9.pdf"
    )
    # The key is tenant/case/attachment id: the user's filename is no part of it.
    assert await stored_keys(objects, tenant, case_id) == [
        f"{tenant_key_prefix(tenant)}{case_id}/{attachment['id']}"
    ]
    after = await counts(sessions, tenant, case_id)
    assert after == {
        "attachments": 1,
        "events": before["events"] + 1,
        "outbox": before["outbox"] + 1,
    }
    timeline = (await client.get(f"/api/v1/cases/{case_id}")).json()["timeline"]
    added_event = timeline[-1]
    assert (added_event["type"], added_event["actor"]) == ("case.attachment_added", "ana")
    assert added_event["payload"]["sha256"] == attachment["sha256"]


async def test_a_file_above_one_part_goes_up_in_parts(
    client: httpx.AsyncClient, objects: ObjectStore, tenant: str
) -> None:
    case_id = await new_case(client)
    content = os.urandom(TEST_PART_SIZE + 123_457)
    added = await upload(client, case_id, content, "memory.dmp")
    assert added.status_code == 201, added.text
    assert added.json()["sha256"] == hashlib.sha256(content).hexdigest()
    download = await client.get(f"/api/v1/cases/{case_id}/attachments/{added.json()['id']}/content")
    assert download.content == content
    assert len(await stored_keys(objects, tenant, case_id)) == 1


async def test_too_large_is_413_naming_the_limit_and_stores_nothing(
    client: httpx.AsyncClient, objects: ObjectStore, sessions: SessionFactory, tenant: str
) -> None:
    case_id = await new_case(client)
    before = await counts(sessions, tenant, case_id)

    declared = await upload(client, case_id, b"x" * (LIMIT + 100_000))
    assert declared.status_code == 413
    assert declared.json()["code"] == "attachment_too_large"
    assert declared.json()["details"] == {"limit_bytes": LIMIT}

    async def unannounced() -> AsyncIterator[bytes]:
        # No Content-Length: the limit is found while streaming, after a first part
        # went to the store as a multipart upload, which must be aborted.
        boundary = b"b0undary"
        yield b"--" + boundary + b'\r\nContent-Disposition: form-data; name="file"; '
        yield b'filename="big.bin"\r\nContent-Type: application/octet-stream\r\n\r\n'
        for _ in range(LIMIT // 65_536 + 2):
            yield b"y" * 65_536
        yield b"\r\n--" + boundary + b"--\r\n"

    streamed = await client.post(
        f"/api/v1/cases/{case_id}/attachments",
        content=unannounced(),
        headers={"content-type": "multipart/form-data; boundary=b0undary"},
    )
    assert streamed.status_code == 413
    assert streamed.json()["code"] == "attachment_too_large"
    assert await counts(sessions, tenant, case_id) == before
    assert await stored_keys(objects, tenant, case_id) == []
    assert await objects.unfinished_uploads(f"{tenant_key_prefix(tenant)}{case_id}/") == []


async def test_another_tenant_gets_404_for_everything(
    client: httpx.AsyncClient, objects: ObjectStore, tenant: str
) -> None:
    case_id = await new_case(client)
    attachment = (await upload(client, case_id, b"secret")).json()
    base = f"/api/v1/cases/{case_id}/attachments"
    one = f"{base}/{attachment['id']}"
    for method, path in [("GET", base), ("GET", one), ("GET", f"{one}/content"), ("DELETE", one)]:
        response = await client.request(method, path, headers=OUTSIDER_HEADERS)
        assert (response.status_code, response.json()["code"]) == (404, "not_found"), path
    foreign = await upload(client, case_id, b"planted", headers=OUTSIDER_HEADERS)
    assert foreign.status_code == 404
    assert (await client.get(base)).json()["items"] == [attachment]
    assert len(await stored_keys(objects, tenant, case_id)) == 1
    assert (await client.get(base, headers={"authorization": "Bearer nope"})).status_code == 401


async def test_removal_is_audited_and_hides_the_attachment(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    case_id = await new_case(client)
    kept = (await upload(client, case_id, b"kept", "kept.txt", "text/plain")).json()
    gone = (await upload(client, case_id, b"gone", "gone.txt", "text/plain")).json()
    before = await counts(sessions, tenant, case_id)
    one = f"/api/v1/cases/{case_id}/attachments/{gone['id']}"

    removed = await client.delete(one, params={"reason": "wrong case"})
    assert removed.status_code == 204
    assert (await client.get(one)).status_code == 404
    assert (await client.get(f"{one}/content")).status_code == 404
    assert (await client.delete(one)).status_code == 404  # not twice: no second event
    listed = (await client.get(f"/api/v1/cases/{case_id}/attachments")).json()["items"]
    assert [a["id"] for a in listed] == [kept["id"]]
    after = await counts(sessions, tenant, case_id)
    assert after == {  # the row stays (soft); one event and one outbox row more
        "attachments": 2,
        "events": before["events"] + 1,
        "outbox": before["outbox"] + 1,
    }
    event = (await client.get(f"/api/v1/cases/{case_id}")).json()["timeline"][-1]
    assert event["type"] == "case.attachment_removed"
    assert (event["actor"], event["payload"]["reason"]) == ("ana", "wrong case")
    assert event["payload"]["attachment_id"] == gone["id"]
    verdict = (await client.get(f"/api/v1/cases/{case_id}/audit/verify")).json()
    assert (verdict["valid"], verdict["events"]) == (True, after["events"])


async def test_a_deleted_case_takes_no_attachment(
    client: httpx.AsyncClient, objects: ObjectStore, tenant: str
) -> None:
    case_id = await new_case(client)
    assert (await client.delete(f"/api/v1/cases/{case_id}", headers=ADMIN_HEADERS)).status_code == 204
    refused = await upload(client, case_id, b"late")
    assert (refused.status_code, refused.json()["code"]) == (404, "not_found")
    assert await stored_keys(objects, tenant, case_id) == []


async def test_what_is_not_one_multipart_file_is_named(client: httpx.AsyncClient) -> None:
    case_id = await new_case(client)
    path = f"/api/v1/cases/{case_id}/attachments"
    raw = await client.post(path, content=b"bytes", headers={"content-type": "application/pdf"})
    assert (raw.status_code, raw.json()["code"]) == (415, "unsupported_media_type")
    no_file = await client.post(path, data={"comment": "no file"}, files={"other": ("a", b"1")})
    assert (no_file.status_code, no_file.json()["code"]) == (422, "invalid_input")
    two = await client.post(path, files=[("file", ("a", b"1")), ("file", ("b", b"2"))])
    assert (two.status_code, two.json()["code"]) == (422, "invalid_input")
    assert (await client.get(path)).json()["items"] == []
