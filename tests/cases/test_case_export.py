"""One case exported as one JSON document, over real HTTP on real Postgres."""

from __future__ import annotations

import httpx

from libs.common.db.engine import SessionFactory
from tests.cases.conftest import ADMIN_HEADERS, OUTSIDER
from tests.cases.test_case_list import alert_with, open_case


async def test_the_export_has_everything_attached_to_the_case(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    ip = {"type": "ip", "value": "10.1.2.3"}
    alerts = [alert_with(tenant, "web-01", [ip]), alert_with(tenant, "web-02")]
    case_id = await open_case(
        sessions, tenant, title="Lateral movement", description="two hosts", alerts=alerts
    )
    await client.patch(f"/api/v1/cases/{case_id}", json={"status": "in_progress"})
    await client.post(f"/api/v1/cases/{case_id}/notes", json={"body": "isolated web-01"})

    response = await client.get(f"/api/v1/cases/{case_id}/export")
    assert response.status_code == 200
    assert response.headers["content-disposition"] == 'attachment; filename="case-1.json"'
    export = response.json()
    assert export["metadata"]["format"] == "casestream.case-export.v1"
    assert export["metadata"]["exported_by"] == "ana"
    assert export["attachments"] == []
    assert (export["case"]["id"], export["case"]["status"]) == (str(case_id), "in_progress")
    assert export["description"] == "two hosts"
    # Alerts carry their detection payloads, unlike the detail view.
    by_host = {a["host"]: a for a in export["alerts"]}
    assert set(by_host) == {"web-01", "web-02"}
    assert by_host["web-01"]["detection"]["entities"] == [ip]
    assert [n["body"] for n in export["notes"]] == ["isolated web-01"]
    timeline = export["timeline"]
    assert [e["type"] for e in timeline] == [
        "case.opened",
        "case.status_changed",
        "case.note_added",
    ]
    # The chain is in the document, so it can be checked again without the API.
    assert timeline[0]["prev_hash"] is None
    assert [e["prev_hash"] for e in timeline[1:]] == [e["hash"] for e in timeline[:-1]]
    assert export["audit_verification"] == {
        "case_id": str(case_id),
        "events": 3,
        "valid": True,
        "broken_at_seq": None,
        "problem": None,
    }


async def test_an_outsider_or_a_deleted_case_exports_nothing(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    case_id = await open_case(sessions, tenant, alerts=[alert_with(tenant)])
    outsider = {"authorization": f"Bearer {OUTSIDER}"}
    path = f"/api/v1/cases/{case_id}/export"
    foreign = await client.get(path, headers=outsider)
    assert (foreign.status_code, foreign.json()["code"]) == (404, "not_found")
    assert (await client.get(path, headers={"authorization": "Bearer nope"})).status_code == 401
    deleted = await client.delete(f"/api/v1/cases/{case_id}", headers=ADMIN_HEADERS)
    assert deleted.status_code == 204
    assert (await client.get(path)).status_code == 404


async def test_the_export_has_the_tasks_in_order_with_counts(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    case_id = await open_case(sessions, tenant, alerts=[alert_with(tenant)])
    url = f"/api/v1/cases/{case_id}/tasks"
    first = (await client.post(url, json={"title": "Image the disk", "assignee": "bob"})).json()
    await client.post(url, json={"title": "Notify legal", "description": "*after* imaging"})
    await client.patch(f"{url}/{first['id']}", json={"status": "done"})

    export = (await client.get(f"/api/v1/cases/{case_id}/export")).json()
    assert [(t["position"], t["title"], t["status"]) for t in export["tasks"]] == [
        (0, "Image the disk", "done"),
        (1, "Notify legal", "todo"),
    ]
    assert export["tasks"][0]["completed_at"] is not None
    assert export["tasks"][1]["description"] == "*after* imaging"
    assert export["task_counts"] == {"open": 1, "done": 1, "cancelled": 0, "total": 2}
    assert [e["type"] for e in export["timeline"]][-3:] == [
        "case.task_added",
        "case.task_added",
        "case.task_updated",
    ]
    assert export["audit_verification"]["valid"] is True
