"""Helpers for case task tests: open a case, add tasks, read them back, and read the
task events the case store recorded (audit rows and the outbox rows beside them)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import text

from libs.common.contracts.cases import CaseEventV1, parse_case_event
from libs.common.db.engine import SessionFactory

OUTSIDER_HEADERS = {"authorization": "Bearer outsider-key"}


async def new_case(client: httpx.AsyncClient, **body: Any) -> str:
    response = await client.post("/api/v1/cases", json={"title": "case", **body})
    assert response.status_code == 201, response.text
    case_id: str = response.json()["id"]
    return case_id


async def add_task(client: httpx.AsyncClient, case_id: str, title: str, **body: Any) -> str:
    response = await client.post(f"/api/v1/cases/{case_id}/tasks", json={"title": title, **body})
    assert response.status_code == 201, response.text
    task_id: str = response.json()["id"]
    return task_id


async def tasks_of(client: httpx.AsyncClient, case_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"/api/v1/cases/{case_id}/tasks")
    assert response.status_code == 200, response.text
    tasks: list[dict[str, Any]] = response.json()
    return tasks


async def titles(client: httpx.AsyncClient, case_id: str) -> list[tuple[int, str]]:
    return [(t["position"], t["title"]) for t in await tasks_of(client, case_id)]


async def patch_task(
    client: httpx.AsyncClient, case_id: str, task_id: str, **body: Any
) -> httpx.Response:
    return await client.patch(f"/api/v1/cases/{case_id}/tasks/{task_id}", json=body)


async def published_events(sessions: SessionFactory, case_id: str) -> list[CaseEventV1]:
    """The case's outbox messages on cases.events.v1, parsed with the typed contract, after
    checking that each has exactly one audit row (same event id, same order)."""
    async with sessions() as session:
        audit = (
            await session.execute(
                text("SELECT event_id FROM case_events WHERE case_id = :c ORDER BY seq"),
                {"c": uuid.UUID(case_id)},
            )
        ).scalars()
        outbox = (
            await session.execute(
                text(
                    "SELECT event_id, payload::text FROM outbox WHERE topic = 'cases.events.v1' "
                    "AND payload->>'case_id' = :c ORDER BY id"
                ),
                {"c": case_id},
            )
        ).all()
    assert [row[0] for row in outbox] == list(audit)
    return [parse_case_event(row[1]) for row in outbox]


async def audit_is_valid(client: httpx.AsyncClient, case_id: str) -> bool:
    verdict = (await client.get(f"/api/v1/cases/{case_id}/audit/verify")).json()
    valid: bool = verdict["valid"]
    return valid
