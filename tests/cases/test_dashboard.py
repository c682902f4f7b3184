"""The dashboard over real HTTP and Postgres: counts per status and severity, and the open
cases overdue on an SLA right now, for the caller's tenant only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from libs.common.db.engine import SessionFactory
from tests.cases.conftest import ADMIN_HEADERS, OUTSIDER
from tests.cases.timestamps import open_case, set_columns

DASHBOARD = "/api/v1/dashboard"
OUTSIDER_HEADERS = {"authorization": f"Bearer {OUTSIDER}"}
NO_SEVERITY = {"info": 0, "low": 0, "medium": 0, "high": 0, "critical": 0}


async def patch(client: httpx.AsyncClient, case_id: str, **body: Any) -> None:
    response = await client.patch(f"/api/v1/cases/{case_id}", json=body)
    assert response.status_code == 200, response.text


async def dashboard(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await client.get(DASHBOARD, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_counts_and_open_breaches(
    client: httpx.AsyncClient, sessions: SessionFactory
) -> None:
    now = datetime.now(UTC)
    hours = [now - timedelta(hours=h) for h in range(4)]
    ack_late = await open_case(client, severity="high")
    await set_columns(sessions, ack_late, ack_due_at=hours[1])
    # Acknowledged (late: not overdue on ack any more), now overdue on resolution.
    resolve_late = await open_case(client, severity="critical")
    await patch(client, resolve_late, status="acknowledged")
    await set_columns(sessions, resolve_late, ack_due_at=hours[3], resolve_due_at=hours[2])
    both_late = await open_case(client, severity="low")
    await set_columns(sessions, both_late, ack_due_at=hours[3] - timedelta(minutes=1),
                      resolve_due_at=hours[1])  # fmt: skip
    # Resolved past its due times: not open, not a breach now.
    done = await open_case(client, severity="medium")
    await patch(client, done, status="resolved", classification="true_positive")
    await set_columns(sessions, done, ack_due_at=hours[3], resolve_due_at=hours[3])
    in_time = await open_case(client, severity="medium")
    # Merged away: done (a merge stops its clocks), counted per status but not open.
    merged = await open_case(client, severity="medium")
    response = await client.post(f"/api/v1/cases/{in_time}/merge", json={"source_ids": [merged]})
    assert response.status_code == 200, response.text
    await set_columns(sessions, merged, resolve_due_at=hours[3])
    # Deleted and overdue, and another tenant's overdue case: neither is counted.
    deleted = await open_case(client, severity="critical")
    await set_columns(sessions, deleted, ack_due_at=hours[3])
    gone = await client.delete(f"/api/v1/cases/{deleted}", headers=ADMIN_HEADERS)
    assert gone.status_code == 204, gone.text
    theirs = await open_case(client, severity="info", headers=OUTSIDER_HEADERS)
    await set_columns(sessions, theirs, ack_due_at=hours[3])

    body = await dashboard(client)
    assert (body["total"], body["open"]) == (6, 4)
    assert {s: n for s, n in body["by_status"].items() if n} == {
        "new": 3,
        "acknowledged": 1,
        "resolved": 1,
        "merged": 1,
    }
    assert body["by_severity"] == {**NO_SEVERITY, "high": 1, "critical": 1, "low": 1, "medium": 3}
    assert body["open_by_severity"] == {
        **NO_SEVERITY,
        "high": 1,
        "critical": 1,
        "low": 1,
        "medium": 1,
    }
    breaches = body["sla_breaches"]
    assert (breaches["open_cases"], breaches["ack_overdue"], breaches["resolve_overdue"]) == (
        3,
        2,
        2,
    )
    oldest = breaches["oldest"]
    assert [c["id"] for c in oldest] == [both_late, resolve_late, ack_late]
    assert in_time not in [c["id"] for c in oldest]
    first = oldest[0]
    assert (first["severity"], first["status"], first["ack_overdue"], first["resolve_overdue"]) == (
        "low",
        "new",
        True,
        True,
    )
    assert datetime.fromisoformat(first["overdue_since"]) == hours[3] - timedelta(minutes=1)
    # Overdue since the resolve due time: its ack breach is history.
    second = oldest[1]
    assert (second["ack_overdue"], second["resolve_overdue"]) == (False, True)
    assert datetime.fromisoformat(second["overdue_since"]) == hours[2]

    listed = (await dashboard(client, breaches_listed=1))["sla_breaches"]
    assert ([c["id"] for c in listed["oldest"]], listed["open_cases"]) == ([both_late], 3)


async def test_the_outsider_sees_only_their_own(
    client: httpx.AsyncClient, sessions: SessionFactory
) -> None:
    ours = await open_case(client, severity="high")
    await set_columns(sessions, ours, ack_due_at=datetime.now(UTC) - timedelta(hours=1))
    await open_case(client, severity="info", headers=OUTSIDER_HEADERS)

    response = await client.get(DASHBOARD, headers=OUTSIDER_HEADERS)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["total"], body["open"], body["by_severity"]) == (1, 1, {**NO_SEVERITY, "info": 1})
    assert body["sla_breaches"] == {
        "open_cases": 0,
        "ack_overdue": 0,
        "resolve_overdue": 0,
        "oldest": [],
    }


async def test_the_dashboard_needs_a_key_and_a_sane_listing(client: httpx.AsyncClient) -> None:
    assert (await client.get(DASHBOARD, headers={"authorization": ""})).status_code == 401
    refused = await client.get(DASHBOARD, params={"breaches_listed": 101})
    assert refused.status_code == 422
    assert "query.breaches_listed" in refused.text
