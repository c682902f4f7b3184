"""Merging cases over real HTTP on real Postgres, with alerting grouping the detections:
what moves, what the timeline and the outbox say, and where alerting puts new alerts."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
from sqlalchemy import text

from libs.common.contracts.detections import Severity
from libs.common.db.engine import SessionFactory, transaction
from tests.cases.conftest import OUTSIDER
from tests.cases.test_alert_why import GROUPING
from tests.casestore.test_case_store import events_and_outbox
from tests.support.detections import detection

OUTSIDER_HEADERS = {"authorization": f"Bearer {OUTSIDER}"}


async def group(sessions: SessionFactory, tenant: str, *specs: tuple[str, str, int]) -> None:
    """Alerting groups detections (id, host, minutes): one case per host under host+rule."""
    async with transaction(sessions) as session:
        await GROUPING.process(
            session, [detection(tenant, d, host=h, minutes=m) for d, h, m in specs]
        )


async def case_of_host(client: httpx.AsyncClient, host: str) -> dict[str, Any]:
    items = (await client.get("/api/v1/cases", params={"limit": 200})).json()["items"]
    (case,) = [c for c in items if c["host"] == host]
    return await detail(client, case["id"])


async def detail(client: httpx.AsyncClient, case_id: str, **kw: Any) -> dict[str, Any]:
    response = await client.get(f"/api/v1/cases/{case_id}", **kw)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def slot_case(sessions: SessionFactory, tenant: str, key: str) -> str:
    async with sessions() as session:
        case_id = await session.scalar(
            text("SELECT case_id FROM grouping_slots WHERE tenant_id = :t AND group_key = :k"),
            {"t": tenant, "k": key},
        )
    return str(case_id)


async def three_cases(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """h1: two alerts; h2: one alert and a note; h3: one alert, made critical by hand."""
    await group(sessions, tenant, ("a1", "h1", 0), ("a2", "h1", 10), ("b1", "h2", -20))
    await group(sessions, tenant, ("c1", "h3", 40))
    h2 = await case_of_host(client, "h2")
    note = await client.post(f"/api/v1/cases/{h2['id']}/notes", json={"body": "same actor"})
    assert note.status_code == 201
    h3 = await case_of_host(client, "h3")
    raised = await client.patch(f"/api/v1/cases/{h3['id']}", json={"severity": "critical"})
    assert raised.status_code == 200
    return (
        await case_of_host(client, "h1"),
        await case_of_host(client, "h2"),
        await case_of_host(client, "h3"),
    )


async def merge(client: httpx.AsyncClient, target: str, *sources: str, **kw: Any) -> httpx.Response:
    return await client.post(
        f"/api/v1/cases/{target}/merge", json={"source_ids": list(sources)}, **kw
    )


async def test_merge_moves_alerts_notes_and_slots_to_the_target(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    h1, h2, h3 = await three_cases(client, sessions, tenant)
    response = await merge(client, h1["id"], h2["id"], h3["id"])
    assert response.status_code == 200, response.text
    body = response.json()
    assert sorted(body["moved_group_keys"]) == ["host=h2|rule=r1", "host=h3|rule=r1"]

    target = await detail(client, h1["id"])
    assert sorted(a["detection_id"] for a in target["alerts"]) == ["a1", "a2", "b1", "c1"]
    assert target["alert_count"] == 4
    assert target["severity"] == "critical"  # the most severe source's
    assert (target["first_event_at"], target["last_event_at"]) == (
        "2026-03-01T11:40:00Z",
        "2026-03-01T12:40:00Z",
    )
    assert [n["body"] for n in target["notes"]] == ["same actor"]
    merged_from = target["timeline"][-1]
    assert (merged_from["type"], merged_from["actor"]) == ("case.merged_from", "ana")
    assert sorted(merged_from["payload"]["source_case_ids"]) == sorted([h2["id"], h3["id"]])
    assert (merged_from["payload"]["from_severity"], merged_from["payload"]["to_severity"]) == (
        "medium",
        "critical",
    )

    for source in (h2, h3):
        after = await detail(client, source["id"])
        assert (after["status"], after["merged_into"], after["alert_count"]) == (
            "merged",
            h1["id"],
            0,
        )
        assert (after["alerts"], after["notes"]) == ([], [])
        assert after["closed_at"] is not None
        merged_into = after["timeline"][-1]
        assert merged_into["type"] == "case.merged_into"
        assert merged_into["payload"]["target_case_id"] == h1["id"]
        assert merged_into["payload"]["from_status"] == "new"
        verdict = (await client.get(f"/api/v1/cases/{source['id']}/audit/verify")).json()
        assert verdict["valid"] is True

    # One audit event and one outbox row per changed case.
    for case_id in (h1["id"], h2["id"], h3["id"]):
        events, outbox = await events_and_outbox(sessions, uuid.UUID(case_id))
        assert [o.event_id for o in outbox] == [e.event_id for e in events]
    _, target_outbox = await events_and_outbox(sessions, uuid.UUID(h1["id"]))
    assert target_outbox[-1].headers["ce_type"] == "casestream.case.merged_from.v1"

    # The slots follow: alerting grows the surviving case, never the merged one.
    assert await slot_case(sessions, tenant, "host=h2|rule=r1") == h1["id"]
    await group(sessions, tenant, ("b2", "h2", -10))
    target = await detail(client, h1["id"])
    assert "b2" in [a["detection_id"] for a in target["alerts"]]
    assert (await detail(client, h2["id"]))["alert_count"] == 0


async def test_a_moved_alert_keeps_its_grouping_decision_and_says_it_moved(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    h1, h2, _ = await three_cases(client, sessions, tenant)
    assert (await merge(client, h1["id"], h2["id"])).status_code == 200
    (moved,) = [a for a in (await detail(client, h1["id"]))["alerts"] if a["detection_id"] == "b1"]
    why = (await client.get(f"/api/v1/alerts/{moved['id']}/why")).json()
    assert why["case"]["id"] == h1["id"]
    grouping = why["grouping"]
    assert (grouping["decision"], grouping["group_key"]) == ("opened_case", "host=h2|rule=r1")
    (step,) = grouping["moves"]
    assert (step["action"], step["from_case_id"], step["to_case_id"], step["by"]) == (
        "merge",
        h2["id"],
        h1["id"],
        "ana",
    )


async def test_more_than_twenty_sources_is_refused_by_name(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    h1, _, _ = await three_cases(client, sessions, tenant)
    response = await merge(client, h1["id"], *[str(uuid.uuid4()) for _ in range(21)])
    assert (response.status_code, response.json()["code"]) == (422, "invalid_request")
    assert "at most 20 cases per merge" in response.text


async def test_bad_sources_are_refused_and_nothing_changes(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    h1, h2, h3 = await three_cases(client, sessions, tenant)
    theirs = await client.post("/api/v1/cases", json={"title": "x"}, headers=OUTSIDER_HEADERS)
    unknown = str(uuid.uuid4())
    refusals = [
        ((h1["id"], h2["id"], h1["id"]), 422, "invalid_input", "cannot be merged into itself"),
        ((h1["id"], h2["id"], h2["id"]), 422, "invalid_input", "named more than once"),
        ((h1["id"], h2["id"], unknown), 404, "not_found", unknown),
        ((h1["id"], h2["id"], theirs.json()["id"]), 404, "not_found", theirs.json()["id"]),
        ((unknown, h2["id"]), 404, "not_found", unknown),
    ]
    for (target, *sources), status, code, named in refusals:
        response = await merge(client, target, *sources)
        assert (response.status_code, response.json()["code"]) == (status, code), response.text
        assert named in response.text
    for case in (h1, h2, h3):
        now = await detail(client, case["id"])
        assert (now["status"], now["alert_count"], len(now["timeline"])) == (
            case["status"],
            case["alert_count"],
            len(case["timeline"]),
        )
    untouched = await detail(client, theirs.json()["id"], headers=OUTSIDER_HEADERS)
    assert (untouched["status"], len(untouched["timeline"])) == ("new", 1)
    assert await slot_case(sessions, tenant, "host=h2|rule=r1") == h2["id"]


async def test_an_outsider_cannot_merge_into_or_out_of_my_cases(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    h1, h2, _ = await three_cases(client, sessions, tenant)
    theirs = await client.post("/api/v1/cases", json={"title": "x"}, headers=OUTSIDER_HEADERS)
    into_mine = await merge(client, h1["id"], h2["id"], headers=OUTSIDER_HEADERS)
    out_of_mine = await merge(client, theirs.json()["id"], h2["id"], headers=OUTSIDER_HEADERS)
    assert (into_mine.status_code, out_of_mine.status_code) == (404, 404)
    assert (await detail(client, h2["id"]))["status"] == "new"


async def test_a_done_source_or_a_merged_target_is_409_and_nothing_changes(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    h1, h2, h3 = await three_cases(client, sessions, tenant)
    closed = {"status": "closed", "classification": "benign"}
    assert (await client.patch(f"/api/v1/cases/{h3['id']}", json=closed)).status_code == 200
    response = await merge(client, h1["id"], h2["id"], h3["id"])
    assert (response.status_code, response.json()["code"]) == (409, "illegal_transition")
    assert response.json()["details"]["case_id"] == h3["id"]
    assert (await detail(client, h2["id"]))["status"] == "new"
    assert (await detail(client, h1["id"]))["alert_count"] == 2

    assert (await merge(client, h1["id"], h2["id"])).status_code == 200
    into_merged = await merge(client, h2["id"], h3["id"])
    assert (into_merged.status_code, into_merged.json()["code"]) == (409, "conflict")
    assert into_merged.json()["details"]["merged_into"] == h1["id"]
    again = await merge(client, h3["id"], h2["id"])  # a merged case cannot be merged again
    assert (again.status_code, again.json()["code"]) == (409, "illegal_transition")


async def test_merged_is_not_a_status_to_patch(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    h1, _, _ = await three_cases(client, sessions, tenant)
    response = await client.patch(f"/api/v1/cases/{h1['id']}", json={"status": "merged"})
    assert (response.status_code, response.json()["code"]) == (422, "invalid_input")
    assert "/merge" in response.json()["message"]


async def test_crossed_merges_at_once_end_with_one_merge_and_no_deadlock(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    h1, h2, _ = await three_cases(client, sessions, tenant)
    one, other = await asyncio.gather(
        merge(client, h1["id"], h2["id"]), merge(client, h2["id"], h1["id"])
    )
    assert sorted([one.status_code, other.status_code]) == [200, 409]
    statuses = sorted([(await detail(client, c["id"]))["status"] for c in (h1, h2)])
    assert statuses == ["merged", "new"]


async def test_alerting_racing_a_merge_never_grows_the_merged_case(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    h1, h2, _ = await three_cases(client, sessions, tenant)
    merged, _ = await asyncio.gather(
        merge(client, h1["id"], h2["id"]), group(sessions, tenant, ("b3", "h2", 5))
    )
    assert merged.status_code == 200
    source = await detail(client, h2["id"])
    assert (source["alert_count"], source["alerts"]) == (0, [])
    target = await detail(client, h1["id"])
    assert {"b1", "b3"} <= {a["detection_id"] for a in target["alerts"]}
    assert target["alert_count"] == len(target["alerts"])
    assert target["severity"] == Severity.MEDIUM.value


async def test_the_entity_filter_finds_the_target_after_a_merge(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    h1, h2, _ = await three_cases(client, sessions, tenant)
    assert (await merge(client, h1["id"], h2["id"])).status_code == 200
    listed = await client.get("/api/v1/cases", params={"entity": "h2", "status": ["new"]})
    assert [c["id"] for c in listed.json()["items"]] == [h1["id"]]
