"""The retention purger and attachments' objects, on real Postgres and a real SeaweedFS:
a purge deletes the purged cases' objects from the bucket after it commits, and a store
that is absent or down never stops a purge; its objects stay noted until a later round
deletes them."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from libs.common.db.engine import SessionFactory
from libs.common.objectstore import ObjectStore, tenant_key_prefix
from libs.common.settings import ObjectStoreSettings
from libs.embedded.ports import free_port
from tests.cases.attachment_support import OUTSIDER_HEADERS, api, new_case, objects, upload
from tests.cases.retention_support import close, published, purger, set_retention, tombstones
from tests.cases.test_merge import merge

__all__ = ["api", "objects"]  # the fixtures, imported for pytest


@pytest.fixture
async def unreachable(object_store_settings: ObjectStoreSettings) -> AsyncIterator[ObjectStore]:
    """The suite's store settings at an address where nothing answers."""
    settings = object_store_settings.model_copy(
        update={"endpoint_url": f"http://127.0.0.1:{free_port()}", "max_attempts": 1}
    )
    store = ObjectStore(settings)
    yield store
    await store.close()


async def attach(
    client: httpx.AsyncClient, case_id: str, name: str, headers: dict[str, str] | None = None
) -> str:
    response = await upload(client, case_id, name.encode() * 100, name, headers=headers or {})
    assert response.status_code == 201, response.text
    attachment_id: str = response.json()["id"]
    return attachment_id


async def in_bucket(objects: ObjectStore, tenant: str) -> list[str]:
    return sorted(await objects.keys_under(tenant_key_prefix(tenant)))


async def noted(sessions: SessionFactory, tenant: str) -> dict[str, Any]:
    """The tenant's purged objects still to delete: key -> (case, failed attempts)."""
    async with sessions() as session:
        rows = await session.execute(
            text(
                "SELECT object_key, case_id, attempts, last_attempt_at"
                " FROM purged_attachment_objects WHERE tenant_id = :t"
            ),
            {"t": tenant},
        )
        return {row.object_key: row for row in rows}


async def test_a_purge_deletes_the_objects_of_the_attachments_it_purged(
    api: httpx.AsyncClient, objects: ObjectStore, sessions: SessionFactory, tenant: str
) -> None:
    target, source = await new_case(api), await new_case(api)
    await attach(api, target, "kept-until-purged.pcap")
    removed = await attach(api, target, "removed.txt")
    assert (await api.delete(f"/api/v1/cases/{target}/attachments/{removed}")).status_code == 204
    await attach(api, source, "moved-by-the-merge.eml")
    assert (await merge(api, target, source)).status_code == 200
    await attach(api, source, "added-while-merged.txt")
    # Another tenant's case with a file, and one of ours that is not due.
    created = await api.post("/api/v1/cases", json={"title": "x"}, headers=OUTSIDER_HEADERS)
    theirs = created.json()["id"]
    await attach(api, theirs, "not-ours.txt", OUTSIDER_HEADERS)
    kept = await new_case(api)
    await attach(api, kept, "not-due.txt")
    await close(api, target)
    await set_retention(api, 30)
    await published(sessions, tenant)
    assert len(await in_bucket(objects, tenant)) == 5
    other_tenant = await in_bucket(objects, f"{tenant}-other")

    result = await purger(sessions, days_ahead=31, objects=objects).purge_once()

    assert result.purged == 2  # the target and the case merged into it
    assert result.objects_deleted >= 4  # and any other test's leftovers
    (left,) = await in_bucket(objects, tenant)
    assert left.startswith(f"{tenant_key_prefix(tenant)}{kept}/")
    assert await noted(sessions, tenant) == {}
    assert await in_bucket(objects, f"{tenant}-other") == other_tenant
    stones = await tombstones(sessions, tenant)
    assert {str(c) for c in stones} == {target, source}
    assert sum(stone.removed["case_attachments"] for stone in stones.values()) == 4
    listing = await api.get(f"/api/v1/cases/{kept}/attachments")
    assert len(listing.json()["items"]) == 1


async def test_without_a_store_the_purge_completes_and_a_later_round_deletes_the_objects(
    api: httpx.AsyncClient,
    objects: ObjectStore,
    unreachable: ObjectStore,
    sessions: SessionFactory,
    tenant: str,
) -> None:
    case_id = await new_case(api)
    first = await attach(api, case_id, "first.pcap")
    second = await attach(api, case_id, "second.pcap")
    await close(api, case_id)
    await set_retention(api, 1)
    await published(sessions, tenant)
    keys = await in_bucket(objects, tenant)
    prefix = tenant_key_prefix(tenant)
    assert keys == sorted(f"{prefix}{case_id}/{a}" for a in (first, second))

    # No object store at all: the case goes, its objects are noted.
    result = await purger(sessions, days_ahead=2).purge_once()
    assert (result.purged, result.objects_deleted) == (1, 0)
    assert (await api.get(f"/api/v1/cases/{case_id}")).status_code == 404
    notes = await noted(sessions, tenant)
    assert sorted(notes) == keys
    assert {(str(n.case_id), n.attempts) for n in notes.values()} == {(case_id, 0)}

    # A store that does not answer: the round completes, the first failure is counted.
    result = await purger(sessions, days_ahead=2, objects=unreachable).purge_once()
    assert (result.purged, result.objects_deleted) == (0, 0)
    notes = await noted(sessions, tenant)
    assert sorted(notes) == keys
    assert sorted(n.attempts for n in notes.values()) == [0, 1]
    failed = [n for n in notes.values() if n.attempts == 1]
    assert failed[0].last_attempt_at is not None
    assert await in_bucket(objects, tenant) == keys

    # The store is back: the next round deletes them and forgets the notes.
    result = await purger(sessions, days_ahead=2, objects=objects).purge_once()
    assert result.objects_deleted >= 2
    assert await in_bucket(objects, tenant) == []
    assert await noted(sessions, tenant) == {}
    assert uuid.UUID(case_id) in await tombstones(sessions, tenant)
