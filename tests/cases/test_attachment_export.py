"""Attachments in the case export (JSON and zip), and what happens when the object store
or the database fails around an upload: real SeaweedFS, real Postgres, real HTTP."""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import text

from libs.common.db.engine import SessionFactory, transaction
from libs.common.objectstore import ObjectStore
from libs.common.settings import KafkaSettings, ObjectStoreSettings
from libs.embedded.ports import free_port
from tests.cases.attachment_support import (
    OUTSIDER_HEADERS,
    api,
    counts,
    new_case,
    objects,
    stored_keys,
    upload,
)
from tests.cases.conftest import cases_settings, serve_cases

__all__ = ["api", "objects"]  # the fixtures, imported for pytest


@pytest.fixture
async def api_without_store(
    kafka_settings: KafkaSettings,
    database_url: str,
    tenant: str,
    object_store_settings: ObjectStoreSettings,
) -> AsyncIterator[httpx.AsyncClient]:
    """The same tenant and database, but the object store's address answers nothing."""
    unreachable = object_store_settings.model_copy(
        update={"endpoint_url": f"http://127.0.0.1:{free_port()}", "max_attempts": 1}
    )
    settings = cases_settings(kafka_settings, database_url, tenant, object_store=unreachable)
    async with serve_cases(settings) as client:
        client.timeout = httpx.Timeout(60)
        yield client


async def test_the_zip_export_holds_the_json_export_and_the_files(
    api: httpx.AsyncClient,
) -> None:
    case_id = await new_case(api)
    await api.post(f"/api/v1/cases/{case_id}/notes", json={"body": "see the pcap"})
    pcap, log = os.urandom(70_000), b"Jan 1 sshd: Failed password\n" * 100
    first = (await upload(api, case_id, pcap, "..\\..\\capture.pcap")).json()
    second = (await upload(api, case_id, log, "/var/log/auth.log", "text/plain")).json()
    dropped = (await upload(api, case_id, b"not evidence", "mistake.txt")).json()
    removed = await api.delete(f"/api/v1/cases/{case_id}/attachments/{dropped['id']}")
    assert removed.status_code == 204

    document = (await api.get(f"/api/v1/cases/{case_id}/export")).json()
    listed = document["attachments"]
    assert [a["id"] for a in listed] == [first["id"], second["id"]]  # removed one left out
    assert listed[0]["archive_name"] == f"attachments/{first['id']}-capture.pcap"
    assert listed[1]["sha256"] == hashlib.sha256(log).hexdigest()
    assert [e["type"] for e in document["timeline"]][-4:] == [
        "case.attachment_added",
        "case.attachment_added",
        "case.attachment_added",
        "case.attachment_removed",
    ]

    response = await api.get(f"/api/v1/cases/{case_id}/export", params={"format": "zip"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    number = document["case"]["number"]
    assert response.headers["content-disposition"] == f'attachment; filename="case-{number}.zip"'
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert archive.testzip() is None  # every member's CRC checks out
    names = archive.namelist()
    assert names == ["case.json", listed[0]["archive_name"], listed[1]["archive_name"]]
    for name in names:  # nothing that could land outside the folder it is extracted into
        assert not name.startswith(("/", "\\"))
        assert ".." not in name.split("/")
    assert archive.read(listed[0]["archive_name"]) == pcap
    assert archive.read(listed[1]["archive_name"]) == log
    inside = json.loads(archive.read("case.json"))
    for key in ("case", "alerts", "notes", "attachments", "timeline", "audit_verification"):
        assert inside[key] == document[key], key
    assert inside["audit_verification"]["valid"] is True


async def test_a_case_without_attachments_exports_a_zip_with_its_document(
    api: httpx.AsyncClient,
) -> None:
    case_id = await new_case(api)
    response = await api.get(f"/api/v1/cases/{case_id}/export", params={"format": "zip"})
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert archive.namelist() == ["case.json"]
    assert json.loads(archive.read("case.json"))["attachments"] == []
    foreign = await api.get(
        f"/api/v1/cases/{case_id}/export", params={"format": "zip"}, headers=OUTSIDER_HEADERS
    )
    assert foreign.status_code == 404


async def test_an_unreachable_store_is_503_and_records_nothing(
    api: httpx.AsyncClient,
    api_without_store: httpx.AsyncClient,
    sessions: SessionFactory,
    tenant: str,
) -> None:
    case_id = await new_case(api)
    kept = (await upload(api, case_id, b"stored while the store was up")).json()
    before = await counts(sessions, tenant, case_id)

    refused = await upload(api_without_store, case_id, b"while the store is down")
    assert (refused.status_code, refused.json()["code"]) == (503, "object_store_unavailable")
    assert await counts(sessions, tenant, case_id) == before
    content = await api_without_store.get(
        f"/api/v1/cases/{case_id}/attachments/{kept['id']}/content"
    )
    assert (content.status_code, content.json()["code"]) == (503, "object_store_unavailable")
    archive = await api_without_store.get(
        f"/api/v1/cases/{case_id}/export", params={"format": "zip"}
    )
    assert (archive.status_code, archive.json()["code"]) == (503, "object_store_unavailable")
    # Metadata needs no store.
    listed = await api_without_store.get(f"/api/v1/cases/{case_id}/attachments")
    assert listed.json()["items"] == [kept]


async def test_a_failed_record_deletes_the_object_it_was_for(
    api: httpx.AsyncClient,
    objects: ObjectStore,
    sessions: SessionFactory,
    tenant: str,
) -> None:
    """The database refuses the row after the upload (a trigger for this tenant only):
    the object must not stay behind, and nothing is recorded."""
    case_id = await new_case(api)
    before = await counts(sessions, tenant, case_id)
    function = f"refuse_{tenant.replace('-', '_')}"
    async with transaction(sessions) as session:
        await session.execute(
            text(
                f"CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$ "
                f"BEGIN IF NEW.tenant_id = '{tenant}' THEN RAISE EXCEPTION 'refused'; END IF; "
                "RETURN NEW; END $$"
            )
        )
        await session.execute(
            text(
                f"CREATE TRIGGER {function} BEFORE INSERT ON case_attachments "
                f"FOR EACH ROW EXECUTE FUNCTION {function}()"
            )
        )
    try:
        failed = await upload(api, case_id, b"uploaded, never recorded")
    finally:
        async with transaction(sessions) as session:
            await session.execute(text(f"DROP TRIGGER {function} ON case_attachments"))
            await session.execute(text(f"DROP FUNCTION {function}()"))
    assert failed.status_code == 500
    assert await counts(sessions, tenant, case_id) == before
    assert await stored_keys(objects, tenant, case_id) == []
    # The same upload works once the database takes it.
    assert (await upload(api, case_id, b"uploaded, never recorded")).status_code == 201
