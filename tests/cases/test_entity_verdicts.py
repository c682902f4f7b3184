"""Entity verdicts through the API, and alerting applying them: benign keeps an entity
from opening cases until it expires, malicious raises its open cases and new alerts."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import text

from libs.common.contracts.detections import DetectionV1, EntityType, EntityV1
from libs.common.db.engine import SessionFactory, transaction
from tests.cases.conftest import OUTSIDER
from tests.cases.test_alert_why import GROUPING
from tests.support.detections import detection

VERDICTS = "/api/v1/entity-verdicts"


def by_user(tenant: str, detection_id: str, user: str, host: str, minutes: float) -> DetectionV1:
    base = detection(tenant, detection_id, host=host, minutes=minutes)
    return base.model_copy(update={"entities": [EntityV1(type=EntityType.USER, value=user)]})


async def process(sessions: SessionFactory, *batch: DetectionV1) -> None:
    async with transaction(sessions) as session:
        await GROUPING.process(session, list(batch))


async def alert(sessions: SessionFactory, tenant: str, detection_id: str) -> Any:
    async with sessions() as session:
        return (
            await session.execute(
                text(
                    "SELECT a.case_id, a.severity, a.grouping, c.severity AS case_severity"
                    " FROM alerts a LEFT JOIN cases c ON c.id = a.case_id"
                    " WHERE a.tenant_id = :t AND a.detection_id = :d"
                ),
                {"t": tenant, "d": detection_id},
            )
        ).one()


async def test_a_benign_entity_opens_no_case_until_its_verdict_expires(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    put = await client.put(
        VERDICTS,
        json={"type": "user", "value": "SVC-Backup", "verdict": "benign", "ttl_seconds": 3600,
              "reason": "backup service account"},
    )  # fmt: skip
    assert put.status_code == 200, put.text
    assert (put.json()["value"], put.json()["set_by"]) == ("svc-backup", "ana")
    await process(sessions, by_user(tenant, "quiet", "svc-backup", "h1", 0))
    quiet = await alert(sessions, tenant, "quiet")
    assert quiet.case_id is None
    assert (quiet.grouping["reason"], quiet.grouping["verdicts"]) == (
        "benign_entity",
        {"benign": ["user=svc-backup"]},
    )
    async with transaction(sessions) as session:  # the hour passes
        await session.execute(
            text("UPDATE entity_verdicts SET expires_at = now() - interval '1 second'"
                 " WHERE tenant_id = :t"),
            {"t": tenant},
        )  # fmt: skip
    await process(sessions, by_user(tenant, "loud", "svc-backup", "h2", 5))
    assert (await alert(sessions, tenant, "loud")).case_id is not None


async def test_a_malicious_entity_raises_its_open_cases_and_new_alerts(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    await process(
        sessions,
        by_user(tenant, "a", "mallory", "h1", 0),
        by_user(tenant, "b", "alice", "h2", 0),
    )
    put = await client.put(
        VERDICTS, json={"type": "user", "value": "Mallory", "verdict": "malicious"}
    )
    assert put.status_code == 200, put.text
    raised = put.json()["raised_case_ids"]
    first = await alert(sessions, tenant, "a")
    assert raised == [str(first.case_id)]
    assert first.case_severity == "critical"
    assert (await alert(sessions, tenant, "b")).case_severity == "medium"  # untouched
    timeline = (await client.get(f"/api/v1/cases/{first.case_id}")).json()["timeline"]
    assert timeline[-1]["type"] == "case.severity_changed"
    assert timeline[-1]["actor"] == "ana"
    # New alerts naming the entity are critical, and say why.
    await process(sessions, by_user(tenant, "c", "mallory", "h9", 0))
    later = await alert(sessions, tenant, "c")
    assert (later.severity, later.case_severity) == ("critical", "critical")
    assert later.grouping["verdicts"] == {"malicious": ["user=mallory"]}


async def test_verdicts_are_per_tenant_and_can_be_withdrawn(client: httpx.AsyncClient) -> None:
    body = {"type": "ip", "value": "10.0.0.8", "verdict": "benign"}
    assert (await client.put(VERDICTS, json=body)).status_code == 200
    params = {"type": "ip", "value": "10.0.0.8"}
    outsider = {"authorization": f"Bearer {OUTSIDER}"}
    assert (await client.get(VERDICTS, params=params, headers=outsider)).status_code == 404
    assert (await client.get(VERDICTS, params=params)).json()["verdict"] == "benign"
    assert (await client.delete(VERDICTS, params=params)).status_code == 204
    assert (await client.get(VERDICTS, params=params)).status_code == 404
    bad = await client.put(VERDICTS, json={**body, "verdict": "maybe", "ttl_seconds": 5})
    assert bad.status_code == 422
    assert {e["location"] for e in bad.json()["details"]["errors"]} == {
        "body.verdict",
        "body.ttl_seconds",
    }
