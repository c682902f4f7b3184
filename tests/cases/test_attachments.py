"""Case attachments over real HTTP, on real Postgres and a real SeaweedFS S3 store: what
goes in comes out byte for byte, is audited once per change, stays in its tenant, and
leaves nothing behind when it is refused."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import AsyncIterator

import httpx

from libs.common.db.engine import SessionFactory
from libs.common.objectstore import ObjectStore, tenant_key_prefix
from tests.cases.attachment_support import (
    LIMIT,
    OUTSIDER_HEADERS,
    api,
    counts,
    new_case,
    objects,
    stored_keys,
    upload,
)
from tests.cases.conftest import ADMIN_HEADERS
from tests.casestore.test_case_store import events_and_outbox
from tests.conftest import TEST_PART_SIZE

__all__ = ["api", "objects"]  # the fixtures, imported for pytest


async def test_an_attachment_round_trips_byte_for_byte(
    api: httpx.AsyncClient, objects: ObjectStore, sessions: SessionFactory, tenant: str
) -> None:
    case_id = await new_case(api)
    before = await counts(sessions, tenant, case_id)
    content = os.urandom(300_000) + b"\x00\r\n--not-a-boundary\r\n"
    added = await upload(api, case_id, content, "../../etc/Rapport é.pdf", "application/pdf")
    assert added.status_code == 201, added.text
    attachment = added.json()
    assert attachment["filename"] == "Rapport é.pdf"
    assert attachment["content_type"] == "application/pdf"
    assert attachment["size_bytes"] == len(content)
    assert attachment["sha256"] == hashlib.sha256(content).hexdigest()
    assert attachment["uploaded_by"] == "ana"

    base = f"/api/v1/cases/{case_id}/attachments"
    assert (await api.get(base)).json() == {"items": [attachment]}
    assert (await api.get(f"{base}/{attachment['id']}")).json() == attachment
    download = await api.get(f"{base}/{attachment['id']}/content")
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
    timeline = (await api.get(f"/api/v1/cases/{case_id}")).json()["timeline"]
    added_event = timeline[-1]
    assert (added_event["type"], added_event["actor"]) == ("case.attachment_added", "ana")
    assert added_event["payload"]["sha256"] == attachment["sha256"]


async def test_a_file_above_one_part_goes_up_in_parts(
    api: httpx.AsyncClient, objects: ObjectStore, tenant: str
) -> None:
    case_id = await new_case(api)
    content = os.urandom(TEST_PART_SIZE + 123_457)
    added = await upload(api, case_id, content, "memory.dmp")
    assert added.status_code == 201, added.text
    assert added.json()["sha256"] == hashlib.sha256(content).hexdigest()
    download = await api.get(f"/api/v1/cases/{case_id}/attachments/{added.json()['id']}/content")
    assert download.content == content
    assert len(await stored_keys(objects, tenant, case_id)) == 1


async def test_too_large_is_413_naming_the_limit_and_stores_nothing(
    api: httpx.AsyncClient, objects: ObjectStore, sessions: SessionFactory, tenant: str
) -> None:
    case_id = await new_case(api)
    before = await counts(sessions, tenant, case_id)

    declared = await upload(api, case_id, b"x" * (LIMIT + 100_000))
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

    streamed = await api.post(
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
    api: httpx.AsyncClient, objects: ObjectStore, tenant: str
) -> None:
    case_id = await new_case(api)
    attachment = (await upload(api, case_id, b"secret")).json()
    base = f"/api/v1/cases/{case_id}/attachments"
    one = f"{base}/{attachment['id']}"
    for method, path in [("GET", base), ("GET", one), ("GET", f"{one}/content"), ("DELETE", one)]:
        response = await api.request(method, path, headers=OUTSIDER_HEADERS)
        assert (response.status_code, response.json()["code"]) == (404, "not_found"), path
    foreign = await upload(api, case_id, b"planted", headers=OUTSIDER_HEADERS)
    assert foreign.status_code == 404
    assert (await api.get(base)).json()["items"] == [attachment]
    assert len(await stored_keys(objects, tenant, case_id)) == 1
    assert (await api.get(base, headers={"authorization": "Bearer nope"})).status_code == 401


async def test_removal_is_audited_and_hides_the_attachment(
    api: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    case_id = await new_case(api)
    kept = (await upload(api, case_id, b"kept", "kept.txt", "text/plain")).json()
    gone = (await upload(api, case_id, b"gone", "gone.txt", "text/plain")).json()
    before = await counts(sessions, tenant, case_id)
    one = f"/api/v1/cases/{case_id}/attachments/{gone['id']}"

    removed = await api.delete(one, params={"reason": "wrong case"})
    assert removed.status_code == 204
    assert (await api.get(one)).status_code == 404
    assert (await api.get(f"{one}/content")).status_code == 404
    assert (await api.delete(one)).status_code == 404  # not twice: no second event
    listed = (await api.get(f"/api/v1/cases/{case_id}/attachments")).json()["items"]
    assert [a["id"] for a in listed] == [kept["id"]]
    after = await counts(sessions, tenant, case_id)
    assert after == {  # the row stays (soft); one event and one outbox row more
        "attachments": 2,
        "events": before["events"] + 1,
        "outbox": before["outbox"] + 1,
    }
    event = (await api.get(f"/api/v1/cases/{case_id}")).json()["timeline"][-1]
    assert event["type"] == "case.attachment_removed"
    assert (event["actor"], event["payload"]["reason"]) == ("ana", "wrong case")
    assert event["payload"]["attachment_id"] == gone["id"]
    events, outbox = await events_and_outbox(sessions, uuid.UUID(case_id))
    assert [e.event_id for e in events] == [o.event_id for o in outbox]  # paired, in order
    assert [e.type for e in events][-3:] == [
        "case.attachment_added",
        "case.attachment_added",
        "case.attachment_removed",
    ]
    verdict = (await api.get(f"/api/v1/cases/{case_id}/audit/verify")).json()
    assert (verdict["valid"], verdict["events"]) == (True, after["events"])


async def test_a_deleted_case_takes_no_attachment(
    api: httpx.AsyncClient, objects: ObjectStore, tenant: str
) -> None:
    case_id = await new_case(api)
    assert (await api.delete(f"/api/v1/cases/{case_id}", headers=ADMIN_HEADERS)).status_code == 204
    refused = await upload(api, case_id, b"late")
    assert (refused.status_code, refused.json()["code"]) == (404, "not_found")
    assert await stored_keys(objects, tenant, case_id) == []


async def test_what_is_not_one_multipart_file_is_named(api: httpx.AsyncClient) -> None:
    case_id = await new_case(api)
    path = f"/api/v1/cases/{case_id}/attachments"
    raw = await api.post(path, content=b"bytes", headers={"content-type": "application/pdf"})
    assert (raw.status_code, raw.json()["code"]) == (415, "unsupported_media_type")
    no_file = await api.post(path, data={"comment": "no file"}, files={"other": ("a", b"1")})
    assert (no_file.status_code, no_file.json()["code"]) == (422, "invalid_input")
    two = await api.post(path, files=[("file", ("a", b"1")), ("file", ("b", b"2"))])
    assert (two.status_code, two.json()["code"]) == (422, "invalid_input")
    assert (await api.get(path)).json()["items"] == []
