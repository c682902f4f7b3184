"""Legal hold over real HTTP on real Postgres: admin only, audited once per change, shown
on the case and the list, and a held case cannot be deleted, by the API or by SQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from libs.common.db.engine import SessionFactory, transaction
from libs.common.settings import ApiCredential, KafkaSettings
from tests.cases.conftest import ADMIN_HEADERS, OUTSIDER, cases_settings, serve_cases
from tests.cases.test_case_list import listed, open_case
from tests.casestore.test_case_store import events_and_outbox

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


async def hold(
    client: httpx.AsyncClient,
    case_id: uuid.UUID,
    reason: str,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    path = f"/api/v1/cases/{case_id}/legal-hold"
    return await client.put(path, json={"reason": reason}, headers=headers or ADMIN_HEADERS)


async def release(
    client: httpx.AsyncClient,
    case_id: uuid.UUID,
    reason: str | None = "matter closed",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    params = {"reason": reason} if reason is not None else {}
    path = f"/api/v1/cases/{case_id}/legal-hold"
    return await client.delete(path, params=params, headers=headers or ADMIN_HEADERS)


async def test_hold_and_release_are_shown_and_audited_once_each(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    held, free = await open_case(sessions, tenant), await open_case(sessions, tenant)
    response = await hold(client, held, "litigation hold: matter 2026-114")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["legal_hold"], body["legal_hold_reason"], body["legal_hold_by"]) == (
        True,
        "litigation hold: matter 2026-114",
        "root",
    )
    since = body["legal_hold_since"]
    assert since is not None
    detail = (await client.get(f"/api/v1/cases/{held}")).json()
    assert (detail["legal_hold"], detail["legal_hold_since"]) == (True, since)
    items = {c["id"]: c for c in (await client.get("/api/v1/cases")).json()["items"]}
    assert (items[str(held)]["legal_hold"], items[str(free)]["legal_hold"]) == (True, False)
    assert items[str(held)]["legal_hold_reason"] == "litigation hold: matter 2026-114"
    assert await listed(client, legal_hold="true") == [str(held)]
    assert await listed(client, legal_hold="false") == [str(free)]

    # The same reason again changes nothing; a new one is recorded, the start kept.
    assert (await hold(client, held, "litigation hold: matter 2026-114")).status_code == 200
    changed = await hold(client, held, "matter 2026-114 and 2026-120")
    assert changed.json()["legal_hold_since"] == since
    released = await release(client, held, "both matters settled")
    assert released.status_code == 200
    assert (released.json()["legal_hold"], released.json()["legal_hold_reason"]) == (False, None)

    events, outbox = await events_and_outbox(sessions, held)
    assert [e.type for e in events] == [
        "case.opened",
        "case.legal_hold_set",
        "case.legal_hold_set",
        "case.legal_hold_released",
    ]
    assert [o.event_id for o in outbox] == [e.event_id for e in events]
    assert outbox[1].headers["ce_type"] == "casestream.case.legal_hold_set.v1"
    first, second, gone = (e.payload for e in events[1:])
    assert (events[1].actor, first["reason"], first["previous_reason"]) == (
        "root",
        "litigation hold: matter 2026-114",
        None,
    )
    assert second["previous_reason"] == "litigation hold: matter 2026-114"
    assert (gone["reason"], gone["held_reason"]) == (
        "both matters settled",
        "matter 2026-114 and 2026-120",
    )
    verdict = (await client.get(f"/api/v1/cases/{held}/audit/verify")).json()
    assert (verdict["valid"], verdict["events"]) == (True, 4)


async def test_a_held_case_cannot_be_deleted_until_released(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    case_id = await open_case(sessions, tenant)
    assert (await hold(client, case_id, "regulator inquiry")).status_code == 200
    refused = await client.delete(f"/api/v1/cases/{case_id}", headers=ADMIN_HEADERS)
    assert (refused.status_code, refused.json()["code"]) == (409, "legal_hold_active")
    assert (await client.get(f"/api/v1/cases/{case_id}")).status_code == 200
    types = [e.type for e in (await events_and_outbox(sessions, case_id))[0]]
    assert types == ["case.opened", "case.legal_hold_set"]  # the refusal wrote nothing

    assert (await release(client, case_id)).status_code == 200
    deleted = await client.delete(f"/api/v1/cases/{case_id}", headers=ADMIN_HEADERS)
    assert deleted.status_code == 204
    # A deleted case is gone for holds too (restore it first).
    assert (await hold(client, case_id, "too late")).status_code == 404


async def test_the_database_refuses_deleting_a_held_case(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    """Whatever the code path: the row of a held case cannot be deleted."""
    case_id = await open_case(sessions, tenant)
    assert (await hold(client, case_id, "preserve")).status_code == 200
    with pytest.raises(DBAPIError, match="legal hold"):
        async with transaction(sessions) as session:
            await session.execute(text("DELETE FROM cases WHERE id = :c"), {"c": case_id})
    assert (await client.get(f"/api/v1/cases/{case_id}")).status_code == 200


async def test_release_needs_a_hold_and_a_reason(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    case_id = await open_case(sessions, tenant)
    not_held = await release(client, case_id)
    assert (not_held.status_code, not_held.json()["code"]) == (409, "not_on_legal_hold")
    assert (await hold(client, case_id, "preserve")).status_code == 200
    assert (await release(client, case_id, reason=None)).status_code == 422
    empty = await client.put(
        f"/api/v1/cases/{case_id}/legal-hold", json={"reason": ""}, headers=ADMIN_HEADERS
    )
    assert empty.status_code == 422
    assert len((await events_and_outbox(sessions, case_id))[0]) == 2  # opened, hold set


async def test_only_the_tenants_admin_may_hold_or_release(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    case_id = await open_case(sessions, tenant)
    analyst = {"authorization": "Bearer analyst-key"}
    outsider = {"authorization": f"Bearer {OUTSIDER}"}
    nobody = {"authorization": "Bearer not-a-key"}
    for headers, status in ((analyst, 403), (outsider, 403), (nobody, 401), (OTHER_ADMIN, 404)):
        answer = await hold(client, case_id, "x", headers=headers)
        assert answer.status_code == status, headers
    assert (await hold(client, case_id, "preserve")).status_code == 200
    for headers, status in ((analyst, 403), (nobody, 401), (OTHER_ADMIN, 404)):
        assert (await release(client, case_id, headers=headers)).status_code == status
    assert (await client.get(f"/api/v1/cases/{case_id}")).json()["legal_hold"] is True
    assert len((await events_and_outbox(sessions, case_id))[0]) == 2
    unknown = await hold(client, uuid.uuid4(), "x")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "not_found")
