"""Per-tenant workflows over real HTTP: the admin picks triage or incident_response, new
cases follow it, moves need their fields, and reopening clears the done times."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from libs.common.casestore.lifecycle import DONE_STATUSES, OPEN_STATUSES, WORKFLOWS
from libs.common.db.engine import SessionFactory, transaction
from tests.cases.conftest import ADMIN_HEADERS, OUTSIDER
from tests.cases.test_alert_why import GROUPING
from tests.casestore.test_case_store import events_and_outbox
from tests.support.detections import detection

POLICY = "/api/v1/admin/case-policy"


async def use_workflow(client: httpx.AsyncClient, workflow: str) -> dict[str, Any]:
    current = (await client.get(POLICY, headers=ADMIN_HEADERS)).json()
    body = {"version": current["version"], "workflow": workflow}
    response = await client.put(POLICY, json=body, headers=ADMIN_HEADERS)
    assert response.status_code == 200, response.text
    changed: dict[str, Any] = response.json()
    return changed


async def open_case(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.post("/api/v1/cases", json={"title": "Suspicious login"})
    assert response.status_code == 201, response.text
    case: dict[str, Any] = response.json()
    return case


async def move(client: httpx.AsyncClient, case_id: str, **patch: Any) -> httpx.Response:
    return await client.patch(f"/api/v1/cases/{case_id}", json=patch)


async def test_the_policy_is_admin_only_versioned_and_per_tenant(
    client: httpx.AsyncClient,
) -> None:
    assert (await client.get(POLICY)).status_code == 401  # an analyst key is not an admin key
    assert (await client.put(POLICY, json={"version": 0})).status_code == 401
    defaults = (await client.get(POLICY, headers=ADMIN_HEADERS)).json()
    assert (defaults["version"], defaults["workflow"]) == (0, "triage")
    assert defaults["workflow_definition"]["initial"] == "new"

    changed = await use_workflow(client, "incident_response")
    assert (changed["version"], changed["workflow"]) == (1, "incident_response")
    assert changed["workflow_definition"]["requires"]["closed"] == ["classification", "conclusion"]
    stale = await client.put(
        POLICY, json={"version": 0, "workflow": "triage"}, headers=ADMIN_HEADERS
    )
    assert (stale.status_code, stale.json()["code"]) == (409, "conflict")
    assert stale.json()["details"]["current_version"] == 1
    unknown = await client.put(
        POLICY, json={"version": 1, "workflow": "kanban"}, headers=ADMIN_HEADERS
    )
    assert unknown.status_code == 422
    assert (await client.get(POLICY, headers=ADMIN_HEADERS)).json()["version"] == 1

    # The other tenant's cases still open in triage.
    outsider = {"authorization": f"Bearer {OUTSIDER}"}
    theirs = await client.post("/api/v1/cases", json={"title": "x"}, headers=outsider)
    assert (theirs.json()["status"], theirs.json()["workflow"]) == ("new", "triage")


async def test_incident_response_walks_nist_phases_with_required_fields(
    client: httpx.AsyncClient, sessions: SessionFactory
) -> None:
    await use_workflow(client, "incident_response")
    case = await open_case(client)
    case_id = case["id"]
    assert (case["status"], case["workflow"], case["acknowledged_at"]) == (
        "open",
        "incident_response",
        None,
    )
    first = await move(client, case_id, status="investigating")  # a legacy status, accepted
    assert first.json()["acknowledged_at"] is not None
    assert first.json()["in_progress_at"] is not None
    for status in ("pending_approval", "contained", "eradicated", "recovered"):
        response = await move(client, case_id, status=status)
        assert (response.status_code, response.json()["status"]) == (200, status)

    refused = await move(client, case_id, status="resolved")
    assert refused.status_code == 422
    assert refused.json()["code"] == "missing_required_fields"
    assert refused.json()["details"]["missing"] == ["classification"]
    resolved = await move(client, case_id, status="resolved", classification="true_positive")
    assert resolved.json()["resolved_at"] is not None
    refused = await move(client, case_id, status="closed")
    assert (refused.status_code, refused.json()["details"]["missing"]) == (422, ["conclusion"])
    closed = await move(client, case_id, status="closed", conclusion="Host reimaged.")
    assert closed.json()["closed_at"] is not None

    events, outbox = await events_and_outbox(sessions, uuid.UUID(case_id))
    moves = [e.payload["to_status"] for e in events if e.type == "case.status_changed"]
    assert moves == [
        "investigating",
        "pending_approval",
        "contained",
        "eradicated",
        "recovered",
        "resolved",
        "closed",
    ]
    # The refused moves wrote nothing; each accepted change wrote one event and one row.
    assert [o.event_id for o in outbox] == [e.event_id for e in events]
    assert len(events) == 1 + 7 + 2  # opened, moves, classification and conclusion


async def test_a_case_keeps_the_workflow_it_was_opened_under(
    client: httpx.AsyncClient,
) -> None:
    before = await open_case(client)
    await use_workflow(client, "incident_response")
    after = await open_case(client)
    assert (before["workflow"], after["workflow"]) == ("triage", "incident_response")
    response = await move(client, before["id"], status="acknowledged")
    assert response.status_code == 200
    illegal = await move(client, after["id"], status="acknowledged")
    assert illegal.status_code == 409
    assert illegal.json()["details"]["workflow"] == "incident_response"
    assert "investigating" in illegal.json()["details"]["allowed"]


async def test_triage_resolve_needs_a_classification_and_writes_nothing_without(
    client: httpx.AsyncClient, sessions: SessionFactory
) -> None:
    case_id = (await open_case(client))["id"]
    refused = await move(client, case_id, status="resolved", priority=2)
    assert refused.status_code == 422
    body = refused.json()
    assert (body["code"], body["details"]["missing"]) == (
        "missing_required_fields",
        ["classification"],
    )
    assert "classification" in body["message"]
    events, outbox = await events_and_outbox(sessions, uuid.UUID(case_id))
    # The whole PATCH was refused: the priority change rolled back with it.
    assert ([e.type for e in events], len(outbox)) == (["case.opened"], 1)
    case = (await client.get(f"/api/v1/cases/{case_id}")).json()
    assert (case["status"], case["priority"]) == ("new", None)


async def test_triage_escalates_and_reopens_clearing_the_done_times(
    client: httpx.AsyncClient, sessions: SessionFactory
) -> None:
    case_id = (await open_case(client))["id"]
    acked = (await move(client, case_id, status="acknowledged")).json()
    assert (acked["acknowledged_at"], acked["in_progress_at"]) != (None, None)
    assert acked["in_progress_at"] is None
    working = (await move(client, case_id, status="in_progress")).json()
    assert working["acknowledged_at"] == acked["acknowledged_at"]  # MTTA: first move only
    assert (await move(client, case_id, status="escalated")).json()["status"] == "escalated"
    resolved = (await move(client, case_id, status="resolved", classification="benign")).json()
    closed = (await move(client, case_id, status="closed")).json()
    assert closed["resolved_at"] == resolved["resolved_at"]
    assert closed["closed_at"] is not None
    reopened = await move(client, case_id, status="in_progress", reason="it came back")
    assert reopened.status_code == 200
    assert (reopened.json()["resolved_at"], reopened.json()["closed_at"]) == (None, None)
    assert reopened.json()["in_progress_at"] == working["in_progress_at"]
    events, outbox = await events_and_outbox(sessions, uuid.UUID(case_id))
    last = events[-1]
    assert last.type == "case.reopened"
    assert (last.payload["from_status"], last.payload["to_status"]) == ("closed", "in_progress")
    assert last.payload["reason"] == "it came back"
    assert outbox[-1].headers["ce_type"] == "casestream.case.reopened.v1"
    assert len(outbox) == len(events)


async def test_a_merged_case_is_done_and_stays_done(client: httpx.AsyncClient) -> None:
    case_id, target_id = (await open_case(client))["id"], (await open_case(client))["id"]
    response = await client.post(f"/api/v1/cases/{target_id}/merge", json={"source_ids": [case_id]})
    (merged,) = response.json()["sources"]
    assert (merged["status"], merged["merged_into"]) == ("merged", target_id)
    assert merged["closed_at"] is not None
    stuck = await move(client, case_id, status="in_progress")
    assert (stuck.status_code, stuck.json()["details"]["allowed"]) == (409, [])


def test_no_status_is_open_in_one_workflow_and_done_in_another() -> None:
    for workflow in WORKFLOWS.values():
        assert workflow.initial in workflow.open_statuses
        assert workflow.open_statuses.isdisjoint(DONE_STATUSES)
        assert workflow.open_statuses <= OPEN_STATUSES
    assert OPEN_STATUSES.isdisjoint(DONE_STATUSES)


@pytest.mark.parametrize(
    ("workflow", "patch", "joins"),
    [
        ("triage", {"status": "escalated"}, True),
        ("incident_response", {"status": "contained"}, True),
        ("incident_response", {"status": "resolved", "classification": "benign"}, False),
    ],
)
async def test_alerting_attaches_only_to_open_statuses(
    client: httpx.AsyncClient,
    sessions: SessionFactory,
    tenant: str,
    workflow: str,
    patch: dict[str, Any],
    joins: bool,
) -> None:
    await use_workflow(client, workflow)
    async with transaction(sessions) as session:
        await GROUPING.process(session, [detection(tenant, "first", minutes=0)])
    (case,) = (await client.get("/api/v1/cases")).json()["items"]
    assert case["workflow"] == workflow
    assert (await move(client, case["id"], **patch)).status_code == 200
    async with transaction(sessions) as session:
        await GROUPING.process(session, [detection(tenant, "second", minutes=5)])
    cases = (await client.get("/api/v1/cases")).json()["items"]
    assert (len(cases) == 1) is joins
