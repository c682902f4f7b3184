"""Splitting alerts out of a case over real HTTP: a new case holds them, their grouping
decision is kept with a record of the split, and both timelines say what happened."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from libs.common.db.engine import SessionFactory
from tests.cases.test_merge import OUTSIDER_HEADERS, detail, group, merge, slot_case
from tests.cases.test_unmerge import unmerge
from tests.casestore.test_case_store import events_and_outbox


async def one_case(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> dict[str, Any]:
    """Alerting groups four detections of h1 into one case."""
    await group(
        sessions, tenant, ("d1", "h1", 0), ("d2", "h1", 10), ("d3", "h1", 20), ("d4", "h1", 30)
    )
    (case,) = (await client.get("/api/v1/cases")).json()["items"]
    return await detail(client, case["id"])


def ids_of(case: dict[str, Any], *detection_ids: str) -> list[str]:
    return [a["id"] for a in case["alerts"] if a["detection_id"] in detection_ids]


async def split(
    client: httpx.AsyncClient, case_id: str, alert_ids: list[str], **kw: Any
) -> httpx.Response:
    return await client.post(f"/api/v1/cases/{case_id}/split", json={"alert_ids": alert_ids}, **kw)


async def test_split_moves_the_chosen_alerts_into_a_new_case(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    source = await one_case(client, sessions, tenant)
    response = await split(client, source["id"], ids_of(source, "d2", "d4"))
    assert response.status_code == 201, response.text
    new_id = response.json()["case"]["id"]

    new = await detail(client, new_id)
    assert sorted(a["detection_id"] for a in new["alerts"]) == ["d2", "d4"]
    assert (new["title"], new["severity"], new["status"], new["alert_count"]) == (
        "Rule r1 on h1",
        "medium",
        "new",
        2,
    )
    assert (new["first_event_at"], new["last_event_at"]) == (
        "2026-03-01T12:10:00Z",
        "2026-03-01T12:30:00Z",
    )
    assert new["number"] == source["number"] + 1
    opened = new["timeline"][0]
    assert (opened["type"], opened["actor"]) == ("case.opened", "ana")
    assert opened["payload"]["split_from"] == source["id"]
    assert sorted(opened["payload"]["alert_ids"]) == sorted(ids_of(source, "d2", "d4"))

    after = await detail(client, source["id"])
    assert sorted(a["detection_id"] for a in after["alerts"]) == ["d1", "d3"]
    assert (after["alert_count"], after["last_event_at"]) == (2, "2026-03-01T12:20:00Z")
    removed = after["timeline"][-1]
    assert (removed["type"], removed["payload"]["reason"]) == ("case.alert_removed", "split")
    assert removed["payload"]["to_case_id"] == new_id

    for case_id in (source["id"], new_id):
        events, outbox = await events_and_outbox(sessions, uuid.UUID(case_id))
        assert [o.event_id for o in outbox] == [e.event_id for e in events]
        verdict = (await client.get(f"/api/v1/cases/{case_id}/audit/verify")).json()
        assert verdict["valid"] is True

    # Provenance: the original decision, plus who split it off from where and when.
    (moved,) = ids_of(source, "d2")
    why = (await client.get(f"/api/v1/alerts/{moved}/why")).json()
    assert why["case"]["id"] == new_id
    assert (why["grouping"]["decision"], why["grouping"]["reason"]) == (
        "joined_case",
        "joined_open_case",
    )
    (step,) = why["grouping"]["moves"]
    assert (step["action"], step["from_case_id"], step["to_case_id"], step["by"]) == (
        "split",
        source["id"],
        new_id,
        "ana",
    )
    assert step["at"]

    # The group key's slot stays with the source: alerting keeps growing it.
    assert await slot_case(sessions, tenant, "host=h1|rule=r1") == source["id"]
    await group(sessions, tenant, ("d5", "h1", 35))
    assert (await detail(client, source["id"]))["alert_count"] == 3


async def test_a_title_can_be_given_and_mixed_alerts_are_titled_after_the_first(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    source = await one_case(client, sessions, tenant)
    named = await client.post(
        f"/api/v1/cases/{source['id']}/split",
        json={"alert_ids": ids_of(source, "d1"), "title": "Lateral movement"},
    )
    assert named.json()["case"]["title"] == "Lateral movement"
    await group(sessions, tenant, ("z1", "h9", 3))
    items = (await client.get("/api/v1/cases")).json()["items"]
    (h9,) = [c for c in items if c["host"] == "h9"]
    assert (await merge(client, source["id"], h9["id"])).status_code == 200
    current = await detail(client, source["id"])
    mixed = await split(client, source["id"], ids_of(current, "d2", "z1"))
    assert mixed.status_code == 201, mixed.text
    assert mixed.json()["case"]["title"] == "Rule r1 and 1 more alerts"
    assert (mixed.json()["case"]["host"], mixed.json()["case"]["rule_id"]) == (None, "r1")


async def test_moving_every_alert_out_is_422_and_nothing_changes(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    source = await one_case(client, sessions, tenant)
    response = await split(client, source["id"], [a["id"] for a in source["alerts"]])
    assert (response.status_code, response.json()["code"]) == (422, "invalid_input")
    assert "at least one alert" in response.json()["message"]
    assert (await detail(client, source["id"]))["alert_count"] == 4
    assert len((await client.get("/api/v1/cases")).json()["items"]) == 1


async def test_foreign_unknown_or_repeated_alerts_are_refused(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    source = await one_case(client, sessions, tenant)
    await group(sessions, tenant, ("o1", "h2", 0))
    other = [c for c in (await client.get("/api/v1/cases")).json()["items"] if c["host"] == "h2"]
    other_alert = (await detail(client, other[0]["id"]))["alerts"][0]["id"]
    d1 = ids_of(source, "d1")[0]
    cases = [
        ([d1, other_alert], 422, "not on this case"),
        ([d1, str(uuid.uuid4())], 422, "not on this case"),
        ([d1, d1], 422, "more than once"),
        ([], 422, "at least 1"),
    ]
    for alert_ids, status, problem in cases:
        response = await split(client, source["id"], alert_ids)
        assert response.status_code == status, response.text
        assert problem in response.text
    too_many = await split(client, source["id"], [str(uuid.uuid4()) for _ in range(1_001)])
    assert too_many.status_code == 422
    assert "at most 1000 alerts per split" in too_many.text
    assert (await split(client, str(uuid.uuid4()), [d1])).status_code == 404
    outsider = await split(client, source["id"], [d1], headers=OUTSIDER_HEADERS)
    assert outsider.status_code == 404
    assert (await detail(client, source["id"]))["alert_count"] == 4
    assert len((await client.get("/api/v1/cases")).json()["items"]) == 2


async def test_alerts_split_off_a_merge_target_block_the_unmerge(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    await group(sessions, tenant, ("a1", "h1", 0), ("a2", "h1", 5), ("b1", "h2", 0))
    items = (await client.get("/api/v1/cases")).json()["items"]
    h1, h2 = (next(c for c in items if c["host"] == h) for h in ("h1", "h2"))
    assert (await merge(client, h1["id"], h2["id"])).status_code == 200
    target = await detail(client, h1["id"])
    b1 = ids_of(target, "b1")
    assert (await split(client, h1["id"], b1)).status_code == 201
    refused = await unmerge(client, h2["id"])
    assert (refused.status_code, refused.json()["code"]) == (409, "conflict")
    assert refused.json()["details"]["alert_ids"] == b1
    assert "have left it since" in refused.json()["message"]
    assert (await detail(client, h2["id"]))["status"] == "merged"
