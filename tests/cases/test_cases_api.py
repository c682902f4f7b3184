"""The cases API over real HTTP on real Postgres: what an analyst's client sees."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from libs.common.casestore.store import CaseStore, NewCase
from libs.common.contracts.detections import Severity
from libs.common.db.engine import SessionFactory, transaction
from tests.cases.conftest import OUTSIDER
from tests.casestore.test_case_store import alert


async def seed(
    sessions: SessionFactory, tenant: str, severities: list[Severity]
) -> list[uuid.UUID]:
    ids = []
    for n, severity in enumerate(severities):
        async with transaction(sessions) as session:
            case, _ = await CaseStore("test").open_case(
                session,
                NewCase(tenant_id=tenant, title=f"case {n}", severity=severity),
                [alert(tenant, f"{tenant}-d{n}", severity)],
                "system:alerting",
            )
        ids.append(case.id)
    return ids


async def test_list_is_newest_first_and_pages_without_gaps(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    ids = await seed(sessions, tenant, [Severity.LOW] * 5)
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/v1/cases", params=params)).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [str(i) for i in reversed(ids)]


async def test_list_filters_by_status_and_severity(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    low, high, critical = await seed(
        sessions, tenant, [Severity.LOW, Severity.HIGH, Severity.CRITICAL]
    )
    await client.patch(f"/api/v1/cases/{high}", json={"status": "acknowledged"})
    by_severity = (
        await client.get("/api/v1/cases", params={"severity": ["high", "critical"]})
    ).json()
    assert {i["id"] for i in by_severity["items"]} == {str(high), str(critical)}
    by_status = (await client.get("/api/v1/cases", params={"status": "new"})).json()
    assert {i["id"] for i in by_status["items"]} == {str(low), str(critical)}


async def test_detail_has_alerts_notes_and_timeline(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    (case_id,) = await seed(sessions, tenant, [Severity.MEDIUM])
    case = (await client.get(f"/api/v1/cases/{case_id}")).json()
    assert case["number"] == 1
    assert [a["detection_id"] for a in case["alerts"]] == [f"{tenant}-d0"]
    assert "detection" not in case["alerts"][0]  # raw payloads stay off list views
    assert [(e["type"], e["actor"]) for e in case["timeline"]] == [
        ("case.opened", "system:alerting")
    ]


async def test_status_change_is_audited_under_the_caller(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    (case_id,) = await seed(sessions, tenant, [Severity.MEDIUM])
    response = await client.patch(
        f"/api/v1/cases/{case_id}", json={"status": "in_progress", "reason": "looking"}
    )
    assert response.status_code == 200
    assert response.json()["status"] == "in_progress"
    assert response.json()["acknowledged_at"] is not None
    timeline = (await client.get(f"/api/v1/cases/{case_id}")).json()["timeline"]
    change = timeline[-1]
    assert (change["type"], change["actor"]) == ("case.status_changed", "ana")
    assert (change["payload"]["from_status"], change["payload"]["to_status"]) == (
        "new",
        "in_progress",
    )


async def test_an_illegal_transition_is_409_with_the_allowed_ones(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    (case_id,) = await seed(sessions, tenant, [Severity.MEDIUM])
    closed = {"status": "closed", "classification": "benign"}
    assert (await client.patch(f"/api/v1/cases/{case_id}", json=closed)).status_code == 200
    response = await client.patch(f"/api/v1/cases/{case_id}", json={"status": "acknowledged"})
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "illegal_transition"
    assert body["details"]["allowed"] == ["in_progress"]


async def test_notes_are_idempotent_with_a_key(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    (case_id,) = await seed(sessions, tenant, [Severity.MEDIUM])
    headers = {"idempotency-key": "run-42"}
    first = await client.post(
        f"/api/v1/cases/{case_id}/notes", json={"body": "hi"}, headers=headers
    )
    again = await client.post(
        f"/api/v1/cases/{case_id}/notes", json={"body": "hi"}, headers=headers
    )
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    case = (await client.get(f"/api/v1/cases/{case_id}")).json()
    assert [n["body"] for n in case["notes"]] == ["hi"]
    assert [e["type"] for e in case["timeline"]].count("case.note_added") == 1


async def test_another_tenant_sees_nothing(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    (case_id,) = await seed(sessions, tenant, [Severity.MEDIUM])
    outsider = {"authorization": f"Bearer {OUTSIDER}"}
    assert (await client.get(f"/api/v1/cases/{case_id}", headers=outsider)).status_code == 404
    patch = await client.patch(
        f"/api/v1/cases/{case_id}", json={"status": "closed"}, headers=outsider
    )
    assert patch.status_code == 404
    listing = (await client.get("/api/v1/cases", headers=outsider)).json()
    assert listing["items"] == []


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/cases"),
        ("GET", f"/api/v1/cases/{uuid.uuid4()}"),
        ("PATCH", f"/api/v1/cases/{uuid.uuid4()}"),
        ("POST", f"/api/v1/cases/{uuid.uuid4()}/notes"),
    ],
)
async def test_every_route_requires_a_key(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    client.headers.pop("authorization")
    response = await client.request(method, path, json={"status": "closed", "body": "x"})
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"cursor": "garbage"}, "invalid_input"),
        ({"limit": 0}, "invalid_request"),
        ({"limit": 201}, "invalid_request"),
        ({"status": "bogus"}, "invalid_request"),
    ],
)
async def test_bad_list_parameters_are_named(
    client: httpx.AsyncClient, params: dict[str, Any], code: str
) -> None:
    response = await client.get("/api/v1/cases", params=params)
    assert response.status_code == 422
    assert response.json()["code"] == code


async def test_unknown_case_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get(f"/api/v1/cases/{uuid.uuid4()}")
    assert (response.status_code, response.json()["code"]) == (404, "not_found")


async def tamper(sessions: SessionFactory, sql: str, case_id: uuid.UUID) -> None:
    """What someone with database access could do behind the API's back."""
    async with transaction(sessions) as session:
        await session.execute(
            text("ALTER TABLE case_events DISABLE TRIGGER case_events_append_only")
        )
        await session.execute(text(sql), {"c": case_id})
        await session.execute(
            text("ALTER TABLE case_events ENABLE TRIGGER case_events_append_only")
        )


async def test_the_audit_chain_verifies_and_catches_tampering(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    (case_id,) = await seed(sessions, tenant, [Severity.MEDIUM])
    await client.patch(f"/api/v1/cases/{case_id}", json={"status": "in_progress"})
    await client.post(f"/api/v1/cases/{case_id}/notes", json={"body": "checked the host"})
    verdict = (await client.get(f"/api/v1/cases/{case_id}/audit/verify")).json()
    assert (verdict["valid"], verdict["events"]) == (True, 3)

    await tamper(
        sessions,
        "UPDATE case_events SET actor = 'nobody' WHERE case_id = :c AND type = 'case.status_changed'",
        case_id,
    )
    verdict = (await client.get(f"/api/v1/cases/{case_id}/audit/verify")).json()
    assert verdict["valid"] is False
    assert verdict["problem"] == "this event's content was changed"
    timeline = (await client.get(f"/api/v1/cases/{case_id}")).json()["timeline"]
    assert verdict["broken_at_seq"] is not None
    assert [e["actor"] for e in timeline] == ["system:alerting", "nobody", "ana"]


async def test_a_removed_event_breaks_the_chain(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    (case_id,) = await seed(sessions, tenant, [Severity.MEDIUM])
    await client.patch(f"/api/v1/cases/{case_id}", json={"status": "in_progress"})
    resolved = {"status": "resolved", "classification": "true_positive"}
    assert (await client.patch(f"/api/v1/cases/{case_id}", json=resolved)).status_code == 200
    await tamper(
        sessions,
        "DELETE FROM case_events WHERE case_id = :c AND payload->>'to_status' = 'in_progress'",
        case_id,
    )
    verdict = (await client.get(f"/api/v1/cases/{case_id}/audit/verify")).json()
    assert verdict["valid"] is False
    assert verdict["problem"] == "an event before this one was removed, added or reordered"


async def test_a_case_opened_by_hand(client: httpx.AsyncClient, tenant: str) -> None:
    response = await client.post(
        "/api/v1/cases",
        json={
            "title": "Phishing report from finance",
            "severity": "high",
            "assignee": "ana",
            "tags": ["Phishing", "finance", "phishing "],
        },
    )
    assert response.status_code == 201
    case = response.json()
    assert (case["title"], case["severity"], case["status"]) == (
        "Phishing report from finance",
        "high",
        "new",
    )
    assert case["tags"] == ["Phishing", "finance"]  # case-preserving, deduplicated
    assert case["alerts"] == []
    opened = case["timeline"][0]
    assert (opened["type"], opened["actor"]) == ("case.opened", "ana")
    assert opened["payload"]["assignee"] == "ana"


async def test_each_changed_field_is_audited_with_old_and_new(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    (case_id,) = await seed(sessions, tenant, [Severity.LOW])
    response = await client.patch(
        f"/api/v1/cases/{case_id}",
        json={
            "title": "case 0",
            "severity": "critical",
            "assignee": "bob",
            "tags": ["ransomware"],
            "status": "in_progress",
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["severity"], body["assignee"], body["tags"], body["status"]) == (
        "critical",
        "bob",
        ["ransomware"],
        "in_progress",
    )
    timeline = (await client.get(f"/api/v1/cases/{case_id}")).json()["timeline"]
    changes = {
        e["type"]: (e["payload"]["old"], e["payload"]["new"])
        for e in timeline
        if "field" in e["payload"]
    }
    # The title did not change: no event for it.
    assert changes == {
        "case.severity_changed": ("low", "critical"),
        "case.assigned": (None, "bob"),
        "case.tags_updated": ([], ["ransomware"]),
    }
    assert [e["type"] for e in timeline][-1] == "case.status_changed"
    unassign = await client.patch(f"/api/v1/cases/{case_id}", json={"assignee": None})
    assert unassign.json()["assignee"] is None
    verdict = (await client.get(f"/api/v1/cases/{case_id}/audit/verify")).json()
    assert (verdict["valid"], verdict["events"]) == (True, 6)


@pytest.mark.parametrize(
    ("patch", "problem"),
    [
        ({}, "nothing to change"),
        ({"reason": "just because"}, "nothing to change"),
        ({"title": None}, "cannot be null: title"),
        ({"tags": ["x" * 129]}, "longer than 128"),
        ({"tags": [f"t{i}" for i in range(51)]}, "at most 50 tags"),
        ({"colour": "red"}, "Extra inputs are not permitted"),
    ],
)
async def test_bad_patches_are_named(
    client: httpx.AsyncClient,
    sessions: SessionFactory,
    tenant: str,
    patch: dict[str, Any],
    problem: str,
) -> None:
    (case_id,) = await seed(sessions, tenant, [Severity.LOW])
    response = await client.patch(f"/api/v1/cases/{case_id}", json=patch)
    assert response.status_code == 422
    assert problem in response.text
