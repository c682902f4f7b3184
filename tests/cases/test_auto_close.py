"""Resolved cases close by themselves after the days their tenant's policy sets, through
the same scanner and the case store (one audit event and one outbox row)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx

from libs.common.db.engine import SessionFactory
from tests.cases.conftest import ADMIN_HEADERS, OUTSIDER
from tests.cases.test_lifecycle import POLICY, move
from tests.cases.test_sla_scanner import scanner
from tests.casestore.test_case_store import events_and_outbox
from tests.support.time_travel import age_resolution


async def new_case(client: httpx.AsyncClient) -> uuid.UUID:
    """A case opened by hand (resolve it with `resolve`)."""
    created = await client.post("/api/v1/cases", json={"title": "t"})
    assert created.status_code == 201
    return uuid.UUID(created.json()["id"])


async def resolve(client: httpx.AsyncClient, case_id: uuid.UUID, **patch: str) -> None:
    response = await move(client, str(case_id), status="resolved", **patch)
    assert response.status_code == 200, response.text


async def test_resolved_cases_close_after_the_tenants_days(
    client: httpx.AsyncClient, sessions: SessionFactory
) -> None:
    body = {"version": 0, "auto_close_after_days": 3}
    assert (await client.put(POLICY, json=body, headers=ADMIN_HEADERS)).status_code == 200
    old, recent = await new_case(client), await new_case(client)
    for case_id in (old, recent):
        await resolve(client, case_id, classification="false_positive")
    await age_resolution(sessions, old, timedelta(days=3, minutes=1))
    await age_resolution(sessions, recent, timedelta(days=2))

    await scanner(sessions).scan_once()
    await scanner(sessions).scan_once()
    closed = (await client.get(f"/api/v1/cases/{old}")).json()
    assert (closed["status"], closed["closed_at"] is not None) == ("closed", True)
    assert (await client.get(f"/api/v1/cases/{recent}")).json()["status"] == "resolved"
    events, outbox = await events_and_outbox(sessions, old)
    moves = [e for e in events if e.type == "case.status_changed"]
    assert [(m.payload["to_status"], m.actor) for m in moves] == [
        ("resolved", "ana"),
        ("closed", "system:auto-close"),
    ]
    assert "3 days" in moves[-1].payload["reason"]
    assert [o.event_id for o in outbox] == [e.event_id for e in events]


async def test_no_policy_no_auto_close_and_incidents_need_a_conclusion(
    client: httpx.AsyncClient, sessions: SessionFactory
) -> None:
    outsider = {"authorization": f"Bearer {OUTSIDER}"}
    theirs = await client.post("/api/v1/cases", json={"title": "t"}, headers=outsider)
    theirs_id = uuid.UUID(theirs.json()["id"])
    patch = {"status": "resolved", "classification": "benign"}
    assert (
        await client.patch(f"/api/v1/cases/{theirs_id}", json=patch, headers=outsider)
    ).status_code == 200

    body = {"version": 0, "workflow": "incident_response", "auto_close_after_days": 1}
    assert (await client.put(POLICY, json=body, headers=ADMIN_HEADERS)).status_code == 200
    bare, concluded = await new_case(client), await new_case(client)
    await resolve(client, bare, classification="true_positive")
    await resolve(client, concluded, classification="true_positive", conclusion="Reimaged.")
    for case_id in (theirs_id, bare, concluded):
        await age_resolution(sessions, case_id, timedelta(days=30))

    await scanner(sessions).scan_once()
    statuses = [
        (await client.get(f"/api/v1/cases/{case_id}", headers=headers)).json()["status"]
        for case_id, headers in ((theirs_id, outsider), (bare, {}), (concluded, {}))
    ]
    # The other tenant set no auto-close; an incident without a conclusion waits for a person.
    assert statuses == ["resolved", "resolved", "closed"]
