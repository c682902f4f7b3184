"""GET /api/v1/alerts, /alerts/count and /alerts/{id} over real HTTP, on the default
(Postgres) alert store: filters, pages, payloads only when asked, tenant and auth."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import text

from libs.common.casestore.store import CaseStore
from libs.common.contracts.detections import DetectionV1, EntityType, EntityV1
from libs.common.db.engine import SessionFactory, transaction
from services.alerting.service import GroupingService
from tests.cases.conftest import ADMIN_HEADERS, OUTSIDER
from tests.support.detections import T0, detection, host_rule_policy

STORE = CaseStore("casestream/alerting-test")
GROUPING = GroupingService(STORE, host_rule_policy())


def seen(tenant: str, detection_id: str, minutes: int, host: str, *users: str) -> DetectionV1:
    base = detection(tenant, detection_id, host=host, rule=f"rule-{host}", minutes=minutes)
    entities = [EntityV1(type=EntityType.USER, value=user) for user in users]
    return base.model_copy(update={"entities": entities})


async def stored(sessions: SessionFactory, tenant: str) -> dict[str, str]:
    async with transaction(sessions) as session:
        await GROUPING.process(
            session,
            [
                seen(tenant, "a", 0, "ws-1", "Alice"),
                seen(tenant, "b", 10, "ws-2", "bob"),
                seen(tenant, "c", 20, "ws-1", "alice"),
                seen(tenant, "d", 30, "ws-3"),
            ],
        )
        rows = await session.execute(
            text("SELECT detection_id, id FROM alerts WHERE tenant_id = :t"), {"t": tenant}
        )
    return {row.detection_id: str(row.id) for row in rows}


async def page(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await client.get("/api/v1/alerts", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def detection_ids(body: dict[str, Any]) -> list[str]:
    return [item["detection_id"] for item in body["items"]]


async def test_an_analyst_searches_alerts_by_time_host_entity_and_rule(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    await stored(sessions, tenant)
    assert detection_ids(await page(client)) == ["d", "c", "b", "a"]
    window = {"from": (T0 + timedelta(minutes=10)).isoformat(), "to": "2026-03-01T12:30:00"}
    assert detection_ids(await page(client, **window)) == ["c", "b"]
    assert detection_ids(await page(client, host="WS-1")) == ["c", "a"]
    assert detection_ids(await page(client, entity="ALICE", entity_type="user")) == ["c", "a"]
    assert detection_ids(await page(client, entity="ws-3")) == ["d"]
    assert detection_ids(await page(client, rule="rule-ws-2")) == ["b"]
    count = await client.get("/api/v1/alerts/count", params={"entity": "alice"})
    assert count.json() == {"count": 2}


async def test_pages_follow_the_cursor_and_carry_no_payload_unless_asked(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    await stored(sessions, tenant)
    first = await page(client, limit=3)
    assert detection_ids(first) == ["d", "c", "b"]
    item = first["items"][0]
    assert item["detection"] is None
    assert item["case_id"] is not None
    assert (item["first_seen"], item["occurrence_count"]) == ("2026-03-01T12:00:00Z", 1)
    last = await page(client, limit=3, cursor=first["next_cursor"])
    assert (detection_ids(last), last["next_cursor"]) == (["a"], None)
    full = await page(client, limit=1, payload="true")
    assert full["items"][0]["detection"]["detection_id"] == "d"


async def test_one_alert_by_id_for_its_tenant_only(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    ids = await stored(sessions, tenant)
    one = await client.get(f"/api/v1/alerts/{ids['a']}")
    assert one.status_code == 200
    assert (one.json()["detection_id"], one.json()["detection"]) == ("a", None)
    with_payload = await client.get(f"/api/v1/alerts/{ids['a']}", params={"payload": "true"})
    assert with_payload.json()["detection"]["entities"][0]["value"] == "Alice"

    outsider = {"authorization": f"Bearer {OUTSIDER}"}
    refused = await client.get(f"/api/v1/alerts/{ids['a']}", headers=outsider)
    assert refused.status_code == 404
    assert (await client.get("/api/v1/alerts", headers=outsider)).json()["items"] == []
    counted = await client.get("/api/v1/alerts/count", headers=outsider)
    assert counted.json() == {"count": 0}


async def test_alerts_of_a_deleted_case_are_not_found(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    ids = await stored(sessions, tenant)
    case_id = (await client.get(f"/api/v1/alerts/{ids['b']}")).json()["case_id"]
    deleted = await client.delete(f"/api/v1/cases/{case_id}", headers=ADMIN_HEADERS)
    assert deleted.status_code == 204
    assert (await client.get(f"/api/v1/alerts/{ids['b']}")).status_code == 404
    assert detection_ids(await page(client)) == ["d", "c", "a"]


async def test_the_search_needs_a_key(client: httpx.AsyncClient) -> None:
    for path in ("/api/v1/alerts", "/api/v1/alerts/count"):
        response = await client.get(path, headers={"authorization": ""})
        assert response.status_code == 401, path


async def test_questions_that_cannot_be_answered_are_422_naming_the_parameter(
    client: httpx.AsyncClient,
) -> None:
    cases = [
        ({"cursor": "bm90IGEgY3Vyc29y"}, "cursor"),
        ({"from": "2026-03-02T00:00:00Z", "to": "2026-03-01T00:00:00Z"}, "from"),
        ({"entity_type": "user"}, "entity_type"),
    ]
    for params, parameter in cases:
        response = await client.get("/api/v1/alerts", params=params)
        assert response.status_code == 422, params
        body = response.json()
        assert (body["code"], body["details"]["parameter"]) == ("invalid_input", parameter)
    assert (await client.get("/api/v1/alerts", params={"limit": 0})).status_code == 422
