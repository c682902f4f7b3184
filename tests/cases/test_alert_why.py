"""GET /api/v1/alerts/{id}/why explains each grouping decision, as alerting made it."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import text

from libs.common.casestore.store import CaseStore
from libs.common.db.engine import SessionFactory, transaction
from libs.common.policies.alerting import AlertingPolicy, GroupingPolicy, Strategy
from services.alerting.service import GroupingService
from tests.cases.conftest import OUTSIDER
from tests.support.detections import detection, host_rule_policy

GROUPING = GroupingService(CaseStore("casestream/alerting-test"), host_rule_policy())


async def alert_ids(sessions: SessionFactory, tenant: str) -> dict[str, str]:
    async with sessions() as session:
        rows = await session.execute(
            text("SELECT detection_id, id FROM alerts WHERE tenant_id = :t"), {"t": tenant}
        )
    return {row.detection_id: str(row.id) for row in rows}


async def why(client: httpx.AsyncClient, alert_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/v1/alerts/{alert_id}/why")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_each_decision_is_explained(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    async with transaction(sessions) as session:
        await GROUPING.process(
            session,
            [
                detection(tenant, "first", minutes=0),
                detection(tenant, "second", minutes=30),
                detection(tenant, "after-gap", minutes=200),
            ],
        )
    ids = await alert_ids(sessions, tenant)
    first, second, later = [await why(client, ids[d]) for d in ("first", "second", "after-gap")]
    assert (first["grouping"]["decision"], first["grouping"]["reason"]) == (
        "opened_case",
        "no_case_for_key",
    )
    assert (second["grouping"]["decision"], second["grouping"]["reason"]) == (
        "joined_case",
        "joined_open_case",
    )
    assert second["case"]["id"] == first["case"]["id"]
    assert (later["grouping"]["decision"], later["grouping"]["reason"]) == (
        "opened_case",
        "outside_window",
    )
    assert later["case"]["id"] != first["case"]["id"]
    grouping = first["grouping"]
    # Version 0: the built-in default policy, as the tenant never stored one.
    assert (grouping["policy"], grouping["policy_version"]) == ("alerting-policy", 0)
    assert (grouping["strategy"], grouping["strategy_fallback"]) == ("host+rule", False)
    assert grouping["key"] == {"host": "h1", "rule_id": "r1"}
    assert grouping["severity"] == {
        "priority": None,
        "source_severity": "medium",
        "assigned": "medium",
    }
    assert grouping["window"] == {"kind": "sliding", "seconds": 3600, "measured_on": "event_time"}

    closed = await client.patch(
        f"/api/v1/cases/{later['case']['id']}",
        json={"status": "closed", "classification": "false_positive"},
    )
    assert closed.status_code == 200
    async with transaction(sessions) as session:
        await GROUPING.process(session, [detection(tenant, "after-close", minutes=210)])
    reopened = await why(client, (await alert_ids(sessions, tenant))["after-close"])
    assert (reopened["grouping"]["decision"], reopened["grouping"]["reason"]) == (
        "opened_case",
        "previous_case_closed",
    )


async def test_another_tenant_cannot_ask(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    async with transaction(sessions) as session:
        await GROUPING.process(session, [detection(tenant, "private")])
    alert_id = (await alert_ids(sessions, tenant))["private"]
    response = await client.get(
        f"/api/v1/alerts/{alert_id}/why", headers={"authorization": f"Bearer {OUTSIDER}"}
    )
    assert response.status_code == 404


async def test_an_alert_shows_how_often_its_detection_was_seen(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    for occurrence, minutes in (("o1", 0), ("o2", 45), ("o3", 90)):
        async with transaction(sessions) as session:
            await GROUPING.process(
                session, [detection(tenant, "x", occurrence=occurrence, ingested_minutes=minutes)]
            )
    alert = (await why(client, (await alert_ids(sessions, tenant))["x"]))["alert"]
    assert alert["occurrence_count"] == 3
    assert alert["first_seen"] == "2026-03-01T12:00:00Z"
    assert alert["last_seen"] == "2026-03-01T13:30:00Z"


async def test_a_chained_alert_names_the_strategy_and_the_shared_events(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    chain = GroupingService(
        CaseStore("casestream/alerting-test"),
        AlertingPolicy(grouping=GroupingPolicy(strategy=Strategy.CHAIN, window_seconds=3600)),
    )
    first = detection(tenant, "on-h1", host="h1").model_copy(
        update={"matched_event_ids": ["winlog:h1/Security/42"]}
    )
    second = detection(tenant, "on-h2", host="h2", rule="r2", minutes=2).model_copy(
        update={"matched_event_ids": ["winlog:h1/Security/42", "winlog:h1/Security/43"]}
    )
    for batch in ([first], [second]):
        async with transaction(sessions) as session:
            await chain.process(session, batch)
    ids = await alert_ids(sessions, tenant)
    opened, chained = await why(client, ids["on-h1"]), await why(client, ids["on-h2"])
    assert chained["case"]["id"] == opened["case"]["id"]  # another host: joined by the event
    grouping = chained["grouping"]
    assert (grouping["strategy"], grouping["decision"], grouping["reason"]) == (
        "chain",
        "joined_case",
        "shared_event",
    )
    assert grouping["chain"]["shared_event_ids"] == ["winlog:h1/Security/42"]
    assert grouping["chain"]["shared_with_alert_ids"] == [ids["on-h1"]]
    # The first had nothing to chain to: placed by the fallback (entity, its host).
    assert (opened["grouping"]["strategy"], opened["grouping"]["strategy_fallback"]) == (
        "entity",
        True,
    )
    assert opened["grouping"]["chain"]["fallback"] == "entity"
