"""Case tasks refused: bad input named, unknown and foreign tasks not found, other tenants
and deleted cases kept out; and the task events reaching Kafka through the outbox."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from libs.common.casestore.tasks import MAX_TASK_DESCRIPTION_LENGTH, MAX_TASK_TITLE_LENGTH
from libs.common.db.engine import SessionFactory
from libs.common.settings import KafkaSettings
from tests.cases.conftest import ADMIN_HEADERS
from tests.cases.task_support import (
    OUTSIDER_HEADERS,
    add_task,
    new_case,
    patch_task,
    published_events,
    tasks_of,
)
from tests.support.kafka import header, read_until


@pytest.mark.parametrize(
    ("body", "code", "problem"),
    [
        ({"title": ""}, "invalid_request", "at least 1 character"),
        ({"title": "x" * (MAX_TASK_TITLE_LENGTH + 1)}, "invalid_request", "at most 256"),
        ({"title": "   "}, "invalid_input", "cannot be blank"),
        (
            {"title": "t", "description": "d" * (MAX_TASK_DESCRIPTION_LENGTH + 1)},
            "invalid_request",
            "at most 8192",
        ),
        ({"title": "t", "status": "blocked"}, "invalid_request", "todo"),
        ({"title": "t", "due_at": "2026-12-01T09:00:00"}, "invalid_request", "timezone"),
        ({"title": "t", "position": -1}, "invalid_request", "greater than or equal to 0"),
        ({"title": "t", "assignee": ""}, "invalid_request", "at least 1 character"),
        ({"title": "t", "owner": "bob"}, "invalid_request", "Extra inputs"),
        ({}, "invalid_request", "Field required"),
    ],
)
async def test_bad_new_tasks_are_named(
    client: httpx.AsyncClient, body: dict[str, Any], code: str, problem: str
) -> None:
    case_id = await new_case(client)
    response = await client.post(f"/api/v1/cases/{case_id}/tasks", json=body)
    assert (response.status_code, response.json()["code"]) == (422, code)
    assert problem in response.text
    assert await tasks_of(client, case_id) == []


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({}, "nothing to change"),
        ({"title": None}, "cannot be null: title"),
        ({"status": None}, "cannot be null: status"),
        ({"position": None}, "cannot be null: position"),
        ({"status": "closed"}, "todo"),
        ({"description": "d" * (MAX_TASK_DESCRIPTION_LENGTH + 1)}, "at most 8192"),
        ({"owner": "bob"}, "Extra inputs"),
    ],
)
async def test_bad_changes_are_named_and_change_nothing(
    client: httpx.AsyncClient, sessions: SessionFactory, body: dict[str, Any], problem: str
) -> None:
    case_id = await new_case(client)
    task_id = await add_task(client, case_id, "keep me")
    response = await patch_task(client, case_id, task_id, **body)
    assert (response.status_code, response.json()["code"]) == (422, "invalid_request")
    assert problem in response.text
    assert [t["title"] for t in await tasks_of(client, case_id)] == ["keep me"]
    assert [e.type for e in await published_events(sessions, case_id)][-1] == "case.task_added"


async def test_unknown_cases_and_tasks_of_other_cases_are_not_found(
    client: httpx.AsyncClient,
) -> None:
    mine, other = await new_case(client), await new_case(client)
    task_id = await add_task(client, other, "on the other case")
    unknown = str(uuid.uuid4())
    wrong_case = f"/api/v1/cases/{mine}/tasks/{task_id}"
    attempts = [
        await client.get(f"/api/v1/cases/{unknown}/tasks"),
        await client.post(f"/api/v1/cases/{unknown}/tasks", json={"title": "t"}),
        await client.get(f"/api/v1/cases/{mine}/tasks/{unknown}"),
        await client.patch(f"/api/v1/cases/{mine}/tasks/{unknown}", json={"title": "t"}),
        await client.get(wrong_case),
        await client.patch(wrong_case, json={"title": "moved?"}),
        await client.delete(wrong_case),
    ]
    assert [(r.status_code, r.json()["code"]) for r in attempts] == [(404, "not_found")] * 7
    assert [t["title"] for t in await tasks_of(client, other)] == ["on the other case"]


async def test_another_tenant_sees_and_changes_nothing(
    client: httpx.AsyncClient, sessions: SessionFactory
) -> None:
    case_id = await new_case(client)
    task_id = await add_task(client, case_id, "ours")
    url = f"/api/v1/cases/{case_id}/tasks"
    attempts = [
        await client.get(url, headers=OUTSIDER_HEADERS),
        await client.get(f"{url}/{task_id}", headers=OUTSIDER_HEADERS),
        await client.post(url, json={"title": "theirs"}, headers=OUTSIDER_HEADERS),
        await client.patch(f"{url}/{task_id}", json={"status": "done"}, headers=OUTSIDER_HEADERS),
        await client.delete(f"{url}/{task_id}", headers=OUTSIDER_HEADERS),
    ]
    assert [r.status_code for r in attempts] == [404] * 5
    assert [(t["title"], t["status"]) for t in await tasks_of(client, case_id)] == [
        ("ours", "todo")
    ]
    assert len(await published_events(sessions, case_id)) == 2
    # Their own case with the same task id in the path finds nothing of ours either.
    theirs = await client.post("/api/v1/cases", json={"title": "x"}, headers=OUTSIDER_HEADERS)
    foreign = f"/api/v1/cases/{theirs.json()['id']}/tasks/{task_id}"
    assert (await client.get(foreign, headers=OUTSIDER_HEADERS)).status_code == 404


@pytest.mark.parametrize(
    ("method", "suffix"),
    [("GET", ""), ("POST", ""), ("GET", "/t"), ("PATCH", "/t"), ("DELETE", "/t")],
)
async def test_every_task_route_requires_a_key(
    client: httpx.AsyncClient, method: str, suffix: str
) -> None:
    path = f"/api/v1/cases/{uuid.uuid4()}/tasks" + suffix.replace("/t", f"/{uuid.uuid4()}")
    client.headers.pop("authorization")
    response = await client.request(method, path, json={"title": "x"})
    assert response.status_code == 401


async def test_a_deleted_case_has_no_tasks_until_restored(client: httpx.AsyncClient) -> None:
    case_id = await new_case(client)
    task_id = await add_task(client, case_id, "before deletion")
    assert (
        await client.delete(f"/api/v1/cases/{case_id}", headers=ADMIN_HEADERS)
    ).status_code == 204
    url = f"/api/v1/cases/{case_id}/tasks"
    attempts = [
        await client.get(url),
        await client.post(url, json={"title": "late"}),
        await client.get(f"{url}/{task_id}"),
        await client.patch(f"{url}/{task_id}", json={"status": "done"}),
        await client.delete(f"{url}/{task_id}"),
    ]
    assert [r.status_code for r in attempts] == [404] * 5
    restored = await client.post(f"/api/v1/cases/{case_id}/restore", headers=ADMIN_HEADERS)
    assert restored.status_code == 200
    assert [(t["title"], t["status"]) for t in await tasks_of(client, case_id)] == [
        ("before deletion", "todo")
    ]


async def test_task_events_reach_kafka_keyed_by_case(
    client: httpx.AsyncClient, kafka_settings: KafkaSettings
) -> None:
    case_id = await new_case(client)
    task_id = await add_task(client, case_id, "publish me")
    await patch_task(client, case_id, task_id, status="done")
    assert (await client.delete(f"/api/v1/cases/{case_id}/tasks/{task_id}")).status_code == 204
    records = await read_until(
        kafka_settings.bootstrap_servers,
        "cases.events.v1",
        lambda r: r.key == case_id.encode() and b"task" in (header(r, "ce_type") or b""),
        count=3,
    )
    assert [header(r, "ce_type") for r in records] == [
        b"casestream.case.task_added.v1",
        b"casestream.case.task_updated.v1",
        b"casestream.case.task_removed.v1",
    ]
    assert {json.loads(r.value)["task_id"] for r in records} == {task_id}
