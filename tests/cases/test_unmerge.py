"""Undoing a merge over real HTTP: the source gets its alerts, notes, status and grouping
slots back, audited on both cases; impossible undos are 409 with the reason."""

from __future__ import annotations

import uuid

import httpx

from libs.common.db.engine import SessionFactory
from tests.cases.test_merge import (
    OUTSIDER_HEADERS,
    detail,
    group,
    merge,
    slot_case,
    three_cases,
)
from tests.casestore.test_case_store import events_and_outbox


async def unmerge(
    client: httpx.AsyncClient, case_id: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    return await client.post(f"/api/v1/cases/{case_id}/unmerge", headers=headers)


async def test_unmerge_restores_alerts_notes_status_and_slot(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    h1, h2, h3 = await three_cases(client, sessions, tenant)
    ack = await client.patch(f"/api/v1/cases/{h2['id']}", json={"status": "acknowledged"})
    assert ack.status_code == 200
    assert (await merge(client, h1["id"], h2["id"], h3["id"])).status_code == 200
    await client.post(f"/api/v1/cases/{h1['id']}/notes", json={"body": "after the merge"})
    await group(sessions, tenant, ("b2", "h2", -15))  # arrives on the target via the slot

    response = await unmerge(client, h2["id"])
    assert response.status_code == 200, response.text
    assert response.json()["restored_group_keys"] == ["host=h2|rule=r1"]

    source = await detail(client, h2["id"])
    assert (source["status"], source["merged_into"], source["closed_at"]) == (
        "acknowledged",
        None,
        None,
    )
    assert source["acknowledged_at"] == ack.json()["acknowledged_at"]
    assert [a["detection_id"] for a in source["alerts"]] == ["b1"]
    assert source["alert_count"] == 1
    assert [n["body"] for n in source["notes"]] == ["same actor"]
    unmerged = source["timeline"][-1]
    assert (unmerged["type"], unmerged["actor"]) == ("case.unmerged", "ana")
    assert (unmerged["payload"]["from_case_id"], unmerged["payload"]["to_status"]) == (
        h1["id"],
        "acknowledged",
    )

    target = await detail(client, h1["id"])
    # What reached the target after the merge stays there; so does its own note.
    assert sorted(a["detection_id"] for a in target["alerts"]) == ["a1", "a2", "b2", "c1"]
    assert target["alert_count"] == 4
    assert [n["body"] for n in target["notes"]] == ["after the merge"]
    removed = target["timeline"][-1]
    assert (removed["type"], removed["payload"]["reason"]) == ("case.alert_removed", "unmerge")
    assert removed["payload"]["to_case_id"] == h2["id"]
    assert (await detail(client, h3["id"]))["status"] == "merged"  # only h2 was undone

    for case_id in (h1["id"], h2["id"]):
        verdict = (await client.get(f"/api/v1/cases/{case_id}/audit/verify")).json()
        assert verdict["valid"] is True
        events, outbox = await events_and_outbox(sessions, uuid.UUID(case_id))
        assert [o.event_id for o in outbox] == [e.event_id for e in events]

    assert await slot_case(sessions, tenant, "host=h2|rule=r1") == h2["id"]
    await group(sessions, tenant, ("b3", "h2", -5))
    assert "b3" in [a["detection_id"] for a in (await detail(client, h2["id"]))["alerts"]]

    # Undone merges can be done again.
    assert (await merge(client, h1["id"], h2["id"])).status_code == 200
    assert (await detail(client, h2["id"]))["merged_into"] == h1["id"]


async def test_unmerging_what_is_not_merged_is_409_unknown_is_404(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    h1, h2, _ = await three_cases(client, sessions, tenant)
    response = await unmerge(client, h1["id"])
    assert (response.status_code, response.json()["code"]) == (409, "conflict")
    assert "is not merged" in response.json()["message"]
    assert (await unmerge(client, str(uuid.uuid4()))).status_code == 404
    assert (await merge(client, h1["id"], h2["id"])).status_code == 200
    outsider = await unmerge(client, h2["id"], headers=OUTSIDER_HEADERS)
    assert outsider.status_code == 404
    assert (await detail(client, h2["id"]))["status"] == "merged"


async def test_unmerge_is_refused_while_the_target_is_merged_elsewhere(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    h1, h2, h3 = await three_cases(client, sessions, tenant)
    assert (await merge(client, h2["id"], h3["id"])).status_code == 200
    assert (await merge(client, h1["id"], h2["id"])).status_code == 200
    refused = await unmerge(client, h3["id"])
    assert (refused.status_code, refused.json()["code"]) == (409, "conflict")
    assert refused.json()["details"]["target_merged_into"] == h1["id"]
    assert "unmerge that first" in refused.json()["message"]
    assert (await detail(client, h3["id"]))["status"] == "merged"

    assert (await unmerge(client, h2["id"])).status_code == 200
    assert (await unmerge(client, h3["id"])).status_code == 200
    assert [a["detection_id"] for a in (await detail(client, h3["id"]))["alerts"]] == ["c1"]
    assert [a["detection_id"] for a in (await detail(client, h2["id"]))["alerts"]] == ["b1"]
