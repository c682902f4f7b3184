"""Concurrent manual creates are committed together (services/cases/create_batcher.py):
each client still gets its own case, number, audit event and outbox row, and a request
refused for its own input is refused alone."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
from sqlalchemy import text

from libs.common.db.engine import SessionFactory
from tests.cases.custom_field_support import EVERY_TYPE, OUTSIDER_HEADERS, api, define
from tests.cases.test_case_templates import PHISHING, put_template
from tests.casestore.test_case_store import events_and_outbox

__all__ = ["api"]  # the fixture, imported for pytest


def opening(k: int, **extra: Any) -> dict[str, Any]:
    return {"title": f"Suspicious logon {k}", "severity": "high", **extra}


async def create_all(client: httpx.AsyncClient, bodies: list[dict[str, Any]]) -> list[Any]:
    return list(await asyncio.gather(*(client.post("/api/v1/cases", json=b) for b in bodies)))


async def test_concurrent_creates_each_get_their_own_case_event_and_outbox_row(
    api: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    answers = await create_all(api, [opening(k) for k in range(40)])

    assert [a.status_code for a in answers] == [201] * 40
    cases = [a.json() for a in answers]
    assert [c["title"] for c in cases] == [f"Suspicious logon {k}" for k in range(40)]
    assert len({c["number"] for c in cases}) == 40
    for case in cases:
        assert [entry["type"] for entry in case["timeline"]] == ["case.opened"]
        events, outbox = await events_and_outbox(sessions, uuid.UUID(case["id"]))
        assert [e.type for e in events] == ["case.opened"]
        assert [o.event_id for o in outbox] == [e.event_id for e in events]
    async with sessions() as session:
        transactions = await session.scalar(
            text("SELECT count(DISTINCT created_at) FROM cases WHERE tenant_id = :t"),
            {"t": tenant},
        )
    # Cases of one transaction share its start time: some were committed together.
    assert transactions is not None
    assert transactions < 40


async def test_a_create_refused_for_its_own_input_leaves_the_others_in_its_batch(
    api: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    assert (await define(api, "region", EVERY_TYPE["region"])).status_code == 201
    assert (await define(api, "vectors", EVERY_TYPE["vectors"])).status_code == 201
    assert (await put_template(api, "phishing", PHISHING)).status_code in (200, 201)
    bodies = [opening(k) for k in range(12)]
    bodies[3] = opening(3, template="no-such-template")
    bodies[7] = opening(7, custom_fields={"region": "mars"})
    bodies[9] = opening(9, template="phishing")
    bodies[10] = opening(10, tags=[f"tag-{n}" for n in range(51)])

    answers = await create_all(api, bodies)

    assert [a.status_code for a in answers] == [
        422 if k in (3, 7, 10) else 201 for k in range(len(bodies))
    ]
    assert answers[3].json()["details"] == {"template": "no-such-template"}
    assert answers[7].json()["details"]["field"] == "region"
    assert answers[9].json()["title"] == "[Phishing] Suspicious logon 9"
    assert answers[10].json()["details"]["limit"] == 50
    async with sessions() as session:
        titles = (
            await session.scalars(
                text("SELECT title FROM cases WHERE tenant_id = :t ORDER BY number"),
                {"t": tenant},
            )
        ).all()
        transactions = await session.scalar(
            text("SELECT count(DISTINCT created_at) FROM cases WHERE tenant_id = :t"),
            {"t": tenant},
        )
    # The refusals were found before the batch's transaction, which then committed the
    # others together (a refusal inside it would have had each retried alone).
    assert transactions is not None
    assert transactions < len(titles)
    assert sorted(titles) == sorted(
        b["title"] if k != 9 else "[Phishing] Suspicious logon 9"
        for k, b in enumerate(bodies)
        if k not in (3, 7, 10)
    )


async def test_a_value_postgres_cannot_store_is_a_422_and_fails_alone(
    api: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    bodies = [opening(k) for k in range(6)]
    bodies[2] = opening(2, description="pasted from a binary \u0000 blob")

    answers = await create_all(api, bodies)

    assert [a.status_code for a in answers] == [422 if k == 2 else 201 for k in range(6)]
    refused = answers[2].json()
    assert refused["code"] == "invalid_value"
    assert "0x00" in refused["message"]
    async with sessions() as session:
        stored = await session.scalar(
            text("SELECT count(*) FROM cases WHERE tenant_id = :t"), {"t": tenant}
        )
    assert stored == 5


async def test_creates_of_two_tenants_in_one_batch_stay_apart(
    api: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    requests = [
        api.post(
            "/api/v1/cases",
            json=opening(k),
            headers=OUTSIDER_HEADERS if k % 2 else {},
        )
        for k in range(20)
    ]
    answers = await asyncio.gather(*requests)

    assert [a.status_code for a in answers] == [201] * 20
    ours = sorted(a.json()["number"] for k, a in enumerate(answers) if k % 2 == 0)
    theirs = sorted(a.json()["number"] for k, a in enumerate(answers) if k % 2)
    # Each tenant numbers its own cases, from 1, without gaps.
    assert ours == list(range(1, 11))
    assert theirs == list(range(1, 11))
    listed = (await api.get("/api/v1/cases", params={"limit": 50})).json()["items"]
    assert sorted(c["title"] for c in listed) == sorted(
        f"Suspicious logon {k}" for k in range(0, 20, 2)
    )
