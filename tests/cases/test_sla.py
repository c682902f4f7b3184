"""SLA due times over real HTTP: set when a case opens (by hand or by alerting), from the
tenant's targets per severity, moved when the severity changes, listed by breach."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx

from libs.common.contracts.detections import Severity
from libs.common.db.engine import SessionFactory, transaction
from tests.cases.conftest import ADMIN_HEADERS
from tests.cases.test_alert_why import GROUPING
from tests.cases.test_lifecycle import POLICY, move
from tests.casestore.test_case_store import events_and_outbox
from tests.support.detections import detection
from tests.support.time_travel import age_case

DEFAULT_MINUTES = {
    "critical": (15, 4 * 60),
    "high": (15, 12 * 60),
    "medium": (60, 24 * 60),
    "low": (100, 47 * 60),
    "info": (8 * 60, 7 * 24 * 60),
}


def due_minutes(case: dict[str, Any]) -> tuple[float, float]:
    created = datetime.fromisoformat(case["created_at"])
    return (
        (datetime.fromisoformat(case["ack_due_at"]) - created) / timedelta(minutes=1),
        (datetime.fromisoformat(case["resolve_due_at"]) - created) / timedelta(minutes=1),
    )


async def open_case(client: httpx.AsyncClient, severity: str) -> dict[str, Any]:
    response = await client.post("/api/v1/cases", json={"title": "t", "severity": severity})
    assert response.status_code == 201, response.text
    case: dict[str, Any] = response.json()
    return case


async def test_default_targets_per_severity(
    client: httpx.AsyncClient, sessions: SessionFactory
) -> None:
    for severity, minutes in DEFAULT_MINUTES.items():
        case = await open_case(client, severity)
        assert due_minutes(case) == minutes, severity
        assert (case["ack_breached"], case["resolve_breached"], case["sla_breached"]) == (
            False,
            False,
            False,
        )
    # The opening event carries the due times too.
    events, _ = await events_and_outbox(sessions, uuid.UUID(case["id"]))
    assert events[0].payload["ack_due_at"] is not None
    assert datetime.fromisoformat(events[0].payload["ack_due_at"]) == datetime.fromisoformat(
        case["ack_due_at"]
    )


async def test_a_tenant_overrides_some_targets(client: httpx.AsyncClient) -> None:
    body = {"version": 0, "sla": {"high": {"ack_minutes": 5, "resolve_minutes": 90}}}
    changed = await client.put(POLICY, json=body, headers=ADMIN_HEADERS)
    assert changed.status_code == 200, changed.text
    sla = changed.json()["sla"]
    assert sla["high"] == {"ack_minutes": 5, "resolve_minutes": 90}
    assert sla["critical"] == {"ack_minutes": 15, "resolve_minutes": 240}  # the default kept
    assert due_minutes(await open_case(client, "high")) == (5, 90)
    assert due_minutes(await open_case(client, "medium")) == (60, 24 * 60)

    bad = {"version": 1, "sla": {"high": {"ack_minutes": 0, "resolve_minutes": 90}}}
    refused = await client.put(POLICY, json=bad, headers=ADMIN_HEADERS)
    assert refused.status_code == 422
    assert "greater than or equal to 1" in refused.text


async def test_a_severity_change_moves_the_due_times(
    client: httpx.AsyncClient, sessions: SessionFactory
) -> None:
    case = await open_case(client, "low")
    changed = await move(client, case["id"], severity="critical")
    assert changed.status_code == 200
    after = (await client.get(f"/api/v1/cases/{case['id']}")).json()
    assert after["created_at"] == case["created_at"]
    assert due_minutes(after) == (15, 240)  # still counted from the case's creation
    events, outbox = await events_and_outbox(sessions, uuid.UUID(case["id"]))
    change = events[-1].payload
    assert (change["field"], change["old"], change["new"]) == ("severity", "low", "critical")
    assert datetime.fromisoformat(change["resolve_due_at"]) == datetime.fromisoformat(
        after["resolve_due_at"]
    )
    assert len(outbox) == len(events) == 2
    other = await move(client, case["id"], priority=1)
    assert other.json()["ack_due_at"] == after["ack_due_at"]  # only severity moves them


async def test_alerting_opens_with_due_times_and_an_upgrade_moves_them(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    async with transaction(sessions) as session:
        await GROUPING.process(session, [detection(tenant, "d1", severity=Severity.LOW)])
    (case,) = (await client.get("/api/v1/cases")).json()["items"]
    assert due_minutes(case) == DEFAULT_MINUTES["low"]
    async with transaction(sessions) as session:
        await GROUPING.process(
            session, [detection(tenant, "d2", minutes=1, severity=Severity.HIGH)]
        )
    (grown,) = (await client.get("/api/v1/cases")).json()["items"]
    assert (grown["id"], grown["severity"], grown["alert_count"]) == (case["id"], "high", 2)
    assert due_minutes(grown) == DEFAULT_MINUTES["high"]
    timeline = (await client.get(f"/api/v1/cases/{case['id']}")).json()["timeline"]
    upgraded = timeline[-1]["payload"]
    assert upgraded["type"] == "case.severity_upgraded"
    assert datetime.fromisoformat(upgraded["ack_due_at"]) == datetime.fromisoformat(
        grown["ack_due_at"]
    )


async def test_breached_cases_are_listed_and_sorted_by_due_time(
    client: httpx.AsyncClient, sessions: SessionFactory
) -> None:
    late = await open_case(client, "medium")
    on_time = await open_case(client, "medium")
    soon = await open_case(client, "critical")
    await age_case(sessions, uuid.UUID(late["id"]), timedelta(hours=2))  # ack due 1h ago
    breached = (await client.get("/api/v1/cases", params={"sla_breached": True})).json()
    assert [c["id"] for c in breached["items"]] == [late["id"]]
    assert (breached["items"][0]["ack_breached"], breached["items"][0]["resolve_breached"]) == (
        True,
        False,
    )
    fine = (await client.get("/api/v1/cases", params={"sla_breached": False})).json()
    assert {c["id"] for c in fine["items"]} == {on_time["id"], soon["id"]}

    # Acknowledged late is still a breach of the ack target.
    assert (await move(client, late["id"], status="acknowledged")).json()["sla_breached"]

    seen, cursor = [], None
    while True:
        params: dict[str, Any] = {"sort": "ack_due_at", "limit": 1}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/api/v1/cases", params=params)).json()
        seen += [c["id"] for c in page["items"]]
        if (cursor := page["next_cursor"]) is None:
            break
    assert seen == [late["id"], soon["id"], on_time["id"]]

    first = (await client.get("/api/v1/cases", params={"sort": "ack_due_at", "limit": 1})).json()
    mixed = await client.get("/api/v1/cases", params={"cursor": first["next_cursor"]})
    assert (mixed.status_code, mixed.json()["code"]) == (422, "invalid_input")
