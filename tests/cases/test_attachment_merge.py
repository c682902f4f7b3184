"""Attachments follow merges over real HTTP, on real Postgres and a real SeaweedFS: the
target lists, downloads and exports the sources' files, an unmerge gives each back to the
case it came from, and another tenant sees none of it."""

from __future__ import annotations

import io
import os
import zipfile

import httpx
from sqlalchemy import text

from libs.common.contracts.cases import (
    CaseAlertRemovedV1,
    CaseMergedFromV1,
    CaseMergedIntoV1,
    CaseUnmergedV1,
)
from libs.common.db.engine import SessionFactory, transaction
from libs.common.objectstore import ObjectStore, tenant_key_prefix
from tests.cases.attachment_support import (
    OUTSIDER_HEADERS,
    api,
    counts,
    new_case,
    objects,
    stored_keys,
    upload,
)
from tests.cases.task_support import audit_is_valid, published_events
from tests.cases.test_merge import merge
from tests.cases.test_unmerge import unmerge

__all__ = ["api", "objects"]  # the fixtures, imported for pytest


async def attach(client: httpx.AsyncClient, case_id: str, content: bytes, name: str) -> str:
    response = await upload(client, case_id, content, name)
    assert response.status_code == 201, response.text
    attachment_id: str = response.json()["id"]
    return attachment_id


async def listed(client: httpx.AsyncClient, case_id: str) -> list[str]:
    response = await client.get(f"/api/v1/cases/{case_id}/attachments")
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


async def download(client: httpx.AsyncClient, case_id: str, attachment_id: str) -> httpx.Response:
    return await client.get(f"/api/v1/cases/{case_id}/attachments/{attachment_id}/content")


async def remove(client: httpx.AsyncClient, case_id: str, attachment_id: str) -> None:
    removed = await client.delete(f"/api/v1/cases/{case_id}/attachments/{attachment_id}")
    assert removed.status_code == 204, removed.text


async def zipped(client: httpx.AsyncClient, case_id: str) -> dict[str, bytes]:
    """The zip export's attachment members by attachment id."""
    response = await client.get(f"/api/v1/cases/{case_id}/export", params={"format": "zip"})
    assert response.status_code == 200, response.text
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    members = [name for name in archive.namelist() if name.startswith("attachments/")]
    return {name.removeprefix("attachments/")[:36]: archive.read(name) for name in members}


async def test_the_target_lists_downloads_and_exports_the_sources_attachments(
    api: httpx.AsyncClient, objects: ObjectStore, sessions: SessionFactory, tenant: str
) -> None:
    target, first, second = await new_case(api), await new_case(api), await new_case(api)
    files = {name: os.urandom(20_000) for name in ("own", "b1", "b2", "c1")}
    own = await attach(api, target, files["own"], "own.txt")
    b1 = await attach(api, first, files["b1"], "b1.pcap")
    b2 = await attach(api, first, files["b2"], "mistake.txt")
    c1 = await attach(api, second, files["c1"], "c1.eml")
    await remove(api, first, b2)
    before = await counts(sessions, tenant, first)

    response = await merge(api, target, first, second)
    assert response.status_code == 200, response.text
    assert sorted(response.json()["moved_attachment_ids"]) == sorted([b1, c1])

    assert await listed(api, target) == [own, b1, c1]  # oldest first, as before
    for attachment_id, name in ((b1, "b1"), (c1, "c1")):
        got = await download(api, target, attachment_id)
        assert (got.status_code, got.content) == (200, files[name])
        meta = (await api.get(f"/api/v1/cases/{target}/attachments/{attachment_id}")).json()
        assert meta["case_id"] == target
    for source in (first, second):
        assert await listed(api, source) == []
    gone = await download(api, first, b1)
    assert (gone.status_code, gone.json()["code"]) == (404, "not_found")
    # The removed one stays where its removal was recorded, and nothing left the bucket:
    # objects keep the key they were stored under; each row names its own.
    after = await counts(sessions, tenant, first)
    assert after == {
        "attachments": 1,
        "events": before["events"] + 1,  # case.merged_into, and nothing else
        "outbox": before["outbox"] + 1,
    }
    prefix = tenant_key_prefix(tenant)
    assert sorted(await stored_keys(objects, tenant, first)) == sorted(
        [f"{prefix}{first}/{b1}", f"{prefix}{first}/{b2}"]
    )

    assert await zipped(api, target) == {own: files["own"], b1: files["b1"], c1: files["c1"]}
    document = (await api.get(f"/api/v1/cases/{target}/export")).json()
    assert [a["id"] for a in document["attachments"]] == [own, b1, c1]

    merged_into = (await published_events(sessions, first))[-1]
    assert isinstance(merged_into, CaseMergedIntoV1)
    assert [str(a) for a in merged_into.attachment_ids] == [b1]
    merged_from = (await published_events(sessions, target))[-1]
    assert isinstance(merged_from, CaseMergedFromV1)
    assert sorted(str(a) for a in merged_from.attachment_ids) == sorted([b1, c1])
    for case_id in (target, first, second):
        assert await audit_is_valid(api, case_id)

    # Another tenant reaches the moved files by neither case.
    for case_id in (target, first):
        foreign = await api.get(
            f"/api/v1/cases/{case_id}/attachments/{b1}/content", headers=OUTSIDER_HEADERS
        )
        assert foreign.status_code == 404
        listing = await api.get(f"/api/v1/cases/{case_id}/attachments", headers=OUTSIDER_HEADERS)
        assert listing.status_code == 404
    refused = await merge(api, await new_case(api), target, headers=OUTSIDER_HEADERS)
    assert refused.status_code == 404


async def test_unmerge_gives_each_attachment_back_to_its_case(
    api: httpx.AsyncClient, sessions: SessionFactory
) -> None:
    target, source = await new_case(api), await new_case(api)
    own = await attach(api, target, b"target's own", "own.txt")
    kept = await attach(api, source, b"goes and comes back", "kept.pcap")
    dropped = await attach(api, source, b"removed while merged", "dropped.txt")
    assert (await merge(api, target, source)).status_code == 200
    # While merged: the target removes one of them and gains one; the merged case still
    # takes attachments, as it takes notes.
    await remove(api, target, dropped)
    later = await attach(api, target, b"added to the target", "later.txt")
    while_merged = await attach(api, source, b"added while merged", "while.txt")

    response = await unmerge(api, source)
    assert response.status_code == 200, response.text
    assert response.json()["restored_attachment_ids"] == [kept]
    assert await listed(api, source) == [kept, while_merged]
    assert await listed(api, target) == [own, later]
    back = await download(api, source, kept)
    assert (back.status_code, back.content) == (200, b"goes and comes back")
    assert (await download(api, target, kept)).status_code == 404
    assert await zipped(api, source) == {
        kept: b"goes and comes back",
        while_merged: b"added while merged",
    }

    unmerged = (await published_events(sessions, source))[-1]
    assert isinstance(unmerged, CaseUnmergedV1)
    assert [str(a) for a in unmerged.attachment_ids] == [kept]
    left = (await published_events(sessions, target))[-1]
    assert isinstance(left, CaseAlertRemovedV1)
    assert ([str(a) for a in left.attachment_ids], left.reason) == ([kept], "unmerge")
    for case_id in (target, source):
        assert await audit_is_valid(api, case_id)


async def test_a_merge_recorded_before_attachments_moved_still_unmerges(
    api: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    """Merges recorded before this change have no attachment_ids: the unmerge restores
    what they did record and leaves attachments where they are."""
    target, source = await new_case(api), await new_case(api)
    assert (await merge(api, target, source)).status_code == 200
    on_target = await attach(api, target, b"added after the merge", "after.txt")
    async with transaction(sessions) as session:
        await session.execute(
            text(
                "UPDATE case_merges SET moved = moved - 'attachment_ids'"
                " WHERE tenant_id = :t AND source_case_id = :s"
            ),
            {"t": tenant, "s": source},
        )

    response = await unmerge(api, source)
    assert response.status_code == 200, response.text
    assert response.json()["restored_attachment_ids"] == []
    assert await listed(api, target) == [on_target]
