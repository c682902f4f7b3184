"""Soft delete and restore: admin only, audited once each, and a deleted case is gone for
every reader and every writer (alerting included) until it is restored."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import text

from libs.common.casestore.store import CaseStore
from libs.common.db.engine import SessionFactory, transaction
from libs.common.errors import NotFound
from libs.common.settings import ApiCredential, KafkaSettings
from services.alerting.service import GroupingService
from tests.cases.conftest import ADMIN_HEADERS, OUTSIDER, cases_settings, serve_cases
from tests.cases.test_case_list import alert_with, listed, open_case
from tests.casestore.test_case_store import events_and_outbox
from tests.support.detections import detection, host_rule_policy

OTHER_ADMIN = {"authorization": "Bearer other-admin-key"}


@pytest.fixture
async def client(
    kafka_settings: KafkaSettings, database_url: str, tenant: str
) -> AsyncIterator[httpx.AsyncClient]:
    """The usual client, plus an admin of another tenant."""
    settings = cases_settings(kafka_settings, database_url, tenant)
    settings.cases.admin_api_keys.append(
        ApiCredential(key=SecretStr("other-admin-key"), tenant=f"{tenant}-other", name="mallory")
    )
    async with serve_cases(settings) as c:
        yield c


async def delete(client: httpx.AsyncClient, case_id: uuid.UUID, **kw: str) -> httpx.Response:
    return await client.delete(f"/api/v1/cases/{case_id}", headers=ADMIN_HEADERS, params=kw)


async def test_a_deleted_case_is_gone_for_readers_and_writers(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    kept = await open_case(sessions, tenant, title="kept")
    gone = await open_case(sessions, tenant, title="phishing to delete")
    response = await delete(client, gone, reason="opened by mistake")
    assert response.status_code == 204

    assert await listed(client) == [str(kept)]
    assert await listed(client, q="phishing") == []
    page = (await client.get("/api/v1/cases")).json()
    assert (page["counts"], page["total"]) == ({"new": 1}, 1)
    for method, path, body in [
        ("GET", f"/api/v1/cases/{gone}", None),
        ("GET", f"/api/v1/cases/{gone}/audit/verify", None),
        ("PATCH", f"/api/v1/cases/{gone}", {"status": "acknowledged"}),
        ("POST", f"/api/v1/cases/{gone}/notes", {"body": "late note"}),
    ]:
        answer = await client.request(method, path, json=body)
        assert (answer.status_code, answer.json()["code"]) == (404, "not_found"), path
    # Deleting again: there is nothing to delete.
    assert (await delete(client, gone)).status_code == 404


async def test_delete_and_restore_are_audited_once_each(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    case_id = await open_case(sessions, tenant)
    await client.patch(f"/api/v1/cases/{case_id}", json={"status": "in_progress"})
    assert (await delete(client, case_id, reason="duplicate")).status_code == 204
    events, outbox = await events_and_outbox(sessions, case_id)
    assert [e.type for e in events] == ["case.opened", "case.status_changed", "case.deleted"]
    assert [o.event_id for o in outbox] == [e.event_id for e in events]
    deleted = events[-1]
    assert (deleted.actor, deleted.payload["reason"]) == ("root", "duplicate")
    assert deleted.payload["status"] == "in_progress"

    restored = await client.post(f"/api/v1/cases/{case_id}/restore", headers=ADMIN_HEADERS)
    assert restored.status_code == 200
    assert restored.json()["status"] == "in_progress"  # as it was
    events, outbox = await events_and_outbox(sessions, case_id)
    assert [e.type for e in events][-1] == "case.restored"
    assert len(events) == len(outbox) == 4
    assert [o.key for o in outbox] == [str(case_id)] * 4
    case = (await client.get(f"/api/v1/cases/{case_id}")).json()
    assert [e["type"] for e in case["timeline"]][-2:] == ["case.deleted", "case.restored"]
    verdict = (await client.get(f"/api/v1/cases/{case_id}/audit/verify")).json()
    assert (verdict["valid"], verdict["events"]) == (True, 4)
    # Restoring a case that is not deleted is a conflict, and writes nothing.
    again = await client.post(f"/api/v1/cases/{case_id}/restore", headers=ADMIN_HEADERS)
    assert (again.status_code, again.json()["code"]) == (409, "conflict")
    assert len((await events_and_outbox(sessions, case_id))[0]) == 4


async def test_only_the_tenant_admin_may_delete_or_restore(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    case_id = await open_case(sessions, tenant)
    analyst = await client.delete(f"/api/v1/cases/{case_id}")
    assert (analyst.status_code, analyst.json()["code"]) == (403, "forbidden")
    outsider = {"authorization": f"Bearer {OUTSIDER}"}
    assert (await client.delete(f"/api/v1/cases/{case_id}", headers=outsider)).status_code == 403
    nobody = {"authorization": "Bearer not-a-key"}
    assert (await client.delete(f"/api/v1/cases/{case_id}", headers=nobody)).status_code == 401
    # Another tenant's admin cannot even tell the case exists.
    foreign = await client.delete(f"/api/v1/cases/{case_id}", headers=OTHER_ADMIN)
    assert foreign.status_code == 404
    assert (await delete(client, case_id)).status_code == 204
    path = f"/api/v1/cases/{case_id}/restore"
    assert (await client.post(path)).status_code == 403
    assert (await client.post(path, headers=OTHER_ADMIN)).status_code == 404
    assert (await client.get(f"/api/v1/cases/{case_id}")).status_code == 404
    assert len((await events_and_outbox(sessions, case_id))[0]) == 2  # opened, deleted


async def test_alerting_opens_a_new_case_instead_of_growing_a_deleted_one(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    grouping = GroupingService(CaseStore("casestream/alerting-test"), host_rule_policy())
    async with transaction(sessions) as session:
        await grouping.process(session, [detection(tenant, "a1", minutes=0)])
    (first,) = await listed(client)
    assert (await delete(client, uuid.UUID(first))).status_code == 204
    async with transaction(sessions) as session:
        outcome = await grouping.process(session, [detection(tenant, "a2", minutes=5)])
    assert outcome.cases_opened == 1  # within the window, but the key's case is deleted
    (second,) = await listed(client)
    assert second != first
    async with sessions() as session:
        counts: dict[str, int] = dict(
            (
                await session.execute(
                    text("SELECT id::text, alert_count FROM cases WHERE tenant_id = :t"),
                    {"t": tenant},
                )
            ).all()
        )
    assert counts == {first: 1, second: 1}
    alert = (await client.get(f"/api/v1/cases/{second}")).json()["alerts"][0]
    why = (await client.get(f"/api/v1/alerts/{alert['id']}/why")).json()
    assert why["grouping"]["reason"] == "previous_case_closed"


async def test_the_case_store_refuses_to_grow_a_deleted_case(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    """Alerting chose the case before it was deleted: the batch fails and is retried."""
    case_id = await open_case(sessions, tenant)
    assert (await delete(client, case_id)).status_code == 204
    with pytest.raises(NotFound):
        async with transaction(sessions) as session:
            await CaseStore("t").attach_alerts(
                session, tenant, case_id, [alert_with(tenant)], "system:alerting"
            )
    assert len((await events_and_outbox(sessions, case_id))[0]) == 2
