"""Case tasks over real HTTP on real Postgres: adding, listing, changing, reordering and
deleting them, each change one audit event and one outbox row in the case's chain."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import httpx

from libs.common.casestore.tasks import MAX_TASKS_PER_CASE
from libs.common.contracts.cases import (
    CaseTaskAddedV1,
    CaseTaskRemovedV1,
    CaseTaskStatus,
    CaseTaskUpdatedV1,
    TaskFieldChange,
)
from libs.common.db.engine import SessionFactory
from tests.cases.task_support import (
    add_task,
    audit_is_valid,
    new_case,
    patch_task,
    published_events,
    tasks_of,
    titles,
)

DUE = "2026-12-01T09:00:00Z"


async def test_tasks_are_added_listed_and_read_in_order(
    client: httpx.AsyncClient, sessions: SessionFactory
) -> None:
    case_id = await new_case(client)
    url = f"/api/v1/cases/{case_id}/tasks"
    body = {"title": "Isolate host", "description": "**EDR** first", "assignee": "bob"}
    created = await client.post(url, json={**body, "due_at": DUE})
    assert created.status_code == 201, created.text
    task = created.json()
    assert {k: task[k] for k in (*body, "due_at", "status", "position")} == {
        **body,
        "due_at": DUE,
        "status": "todo",
        "position": 0,
    }
    assert (task["created_by"], task["completed_at"], task["case_id"]) == ("ana", None, case_id)
    await add_task(client, case_id, "Reset password")
    await add_task(client, case_id, "Call the user", position=0)
    assert await titles(client, case_id) == [
        (0, "Call the user"),
        (1, "Isolate host"),
        (2, "Reset password"),
    ]
    one = await client.get(f"{url}/{task['id']}")
    assert (one.status_code, one.json()["position"]) == (200, 1)

    detail = (await client.get(f"/api/v1/cases/{case_id}")).json()
    assert [t["title"] for t in detail["tasks"]] == [
        "Call the user",
        "Isolate host",
        "Reset password",
    ]
    assert detail["task_counts"] == {"open": 3, "done": 0, "cancelled": 0, "total": 3}
    # The list stays as light as it was: no tasks on its items.
    listed = (await client.get("/api/v1/cases")).json()["items"]
    assert "tasks" not in listed[0]
    assert "task_counts" not in listed[0]

    events = await published_events(sessions, case_id)
    assert [e.type for e in events] == ["case.opened", *["case.task_added"] * 3]
    added = events[1]
    assert isinstance(added, CaseTaskAddedV1)
    assert (added.task_id, added.title, added.description, added.assignee) == (
        uuid.UUID(task["id"]),
        "Isolate host",
        "**EDR** first",
        "bob",
    )
    assert (added.due_at, added.position, added.actor) == (
        datetime(2026, 12, 1, 9, tzinfo=UTC),
        0,
        "ana",
    )
    assert await audit_is_valid(client, case_id)


async def test_a_change_is_one_event_with_old_and_new_per_changed_field(
    client: httpx.AsyncClient, sessions: SessionFactory
) -> None:
    case_id = await new_case(client)
    task_id = await add_task(client, case_id, "Pull mail logs", assignee="bob")
    change = {"title": "Pull mail and proxy logs", "assignee": None, "due_at": DUE}
    response = await patch_task(client, case_id, task_id, **change, description="see runbook")
    assert response.status_code == 200, response.text
    assert {k: response.json()[k] for k in change} == change
    # The same values again: answered as is, and nothing is recorded.
    again = await patch_task(client, case_id, task_id, title="Pull mail and proxy logs")
    assert again.status_code == 200

    events = await published_events(sessions, case_id)
    assert [e.type for e in events] == ["case.opened", "case.task_added", "case.task_updated"]
    updated = events[-1]
    assert isinstance(updated, CaseTaskUpdatedV1)
    assert updated.changes == {
        "title": TaskFieldChange(old="Pull mail logs", new="Pull mail and proxy logs"),
        "description": TaskFieldChange(old=None, new="see runbook"),
        "assignee": TaskFieldChange(old="bob", new=None),
        "due_at": TaskFieldChange(old=None, new=datetime(2026, 12, 1, 9, tzinfo=UTC)),
    }
    assert (updated.title, updated.status, updated.actor) == (
        "Pull mail and proxy logs",
        CaseTaskStatus.TODO,
        "ana",
    )
    assert await audit_is_valid(client, case_id)


async def test_finishing_sets_completed_at_and_reopening_clears_it(
    client: httpx.AsyncClient, sessions: SessionFactory
) -> None:
    case_id = await new_case(client)
    task_id = await add_task(client, case_id, "Contain")

    async def move(to: str) -> httpx.Response:
        return await patch_task(client, case_id, task_id, status=to)

    started = await move("in_progress")
    assert (started.json()["status"], started.json()["completed_at"]) == ("in_progress", None)
    done = await move("done")
    assert done.json()["completed_at"] is not None
    refused = await move("cancelled")  # a different outcome: reopen first
    assert (refused.status_code, refused.json()["code"]) == (409, "illegal_transition")
    assert refused.json()["details"] == {"from_status": "done", "to_status": "cancelled"}
    reopened = await move("todo")
    assert (reopened.json()["status"], reopened.json()["completed_at"]) == ("todo", None)
    cancelled = await move("cancelled")
    assert cancelled.json()["completed_at"] is not None
    assert (await move("done")).status_code == 409
    assert (await move("in_progress")).json()["completed_at"] is None

    detail = (await client.get(f"/api/v1/cases/{case_id}")).json()
    assert detail["task_counts"] == {"open": 1, "done": 0, "cancelled": 0, "total": 1}
    updates = [
        e for e in await published_events(sessions, case_id) if e.type == "case.task_updated"
    ]
    assert [
        (e.changes["status"].old, e.changes["status"].new, e.completed_at is not None)
        for e in updates
        if isinstance(e, CaseTaskUpdatedV1)
    ] == [
        ("todo", "in_progress", False),
        ("in_progress", "done", True),
        ("done", "todo", False),
        ("todo", "cancelled", True),
        ("cancelled", "in_progress", False),
    ]


async def test_a_task_can_be_added_finished_and_counts_follow(client: httpx.AsyncClient) -> None:
    case_id = await new_case(client)
    done = await client.post(
        f"/api/v1/cases/{case_id}/tasks", json={"title": "Already done", "status": "done"}
    )
    assert done.json()["completed_at"] is not None
    await add_task(client, case_id, "Dropped", status="cancelled")
    await add_task(client, case_id, "Open one")
    await add_task(client, case_id, "Going", status="in_progress")
    detail = (await client.get(f"/api/v1/cases/{case_id}")).json()
    assert detail["task_counts"] == {"open": 2, "done": 1, "cancelled": 1, "total": 4}


async def test_reordering_and_deleting_keep_positions_dense(
    client: httpx.AsyncClient, sessions: SessionFactory
) -> None:
    case_id = await new_case(client)
    ids = {t: await add_task(client, case_id, t) for t in "ABCD"}
    assert (await patch_task(client, case_id, ids["D"], position=0)).json()["position"] == 0
    assert await titles(client, case_id) == [(0, "D"), (1, "A"), (2, "B"), (3, "C")]
    past_the_end = await patch_task(client, case_id, ids["D"], position=50)
    assert past_the_end.json()["position"] == 3
    assert (await patch_task(client, case_id, ids["A"], position=2)).status_code == 200
    assert await titles(client, case_id) == [(0, "B"), (1, "C"), (2, "A"), (3, "D")]

    deleted = await client.delete(f"/api/v1/cases/{case_id}/tasks/{ids['C']}")
    assert deleted.status_code == 204
    assert await titles(client, case_id) == [(0, "B"), (1, "A"), (2, "D")]
    gone = await client.get(f"/api/v1/cases/{case_id}/tasks/{ids['C']}")
    assert (gone.status_code, gone.json()["code"]) == (404, "not_found")
    assert (await client.delete(f"/api/v1/cases/{case_id}/tasks/{ids['C']}")).status_code == 404

    events = await published_events(sessions, case_id)
    moves = [e.changes["position"] for e in events if isinstance(e, CaseTaskUpdatedV1)]
    assert [(m.old, m.new) for m in moves] == [(3, 0), (0, 3), (0, 2)]
    removed = events[-1]
    assert isinstance(removed, CaseTaskRemovedV1)
    assert (str(removed.task_id), removed.title, removed.position) == (ids["C"], "C", 1)
    assert await audit_is_valid(client, case_id)


async def test_at_most_the_limit_per_case_even_when_added_at_once(
    client: httpx.AsyncClient,
) -> None:
    case_id = await new_case(client)
    for n in range(MAX_TASKS_PER_CASE - 5):
        await add_task(client, case_id, f"t{n}")
    url = f"/api/v1/cases/{case_id}/tasks"
    racing = await asyncio.gather(*(client.post(url, json={"title": f"r{n}"}) for n in range(10)))
    assert sorted(r.status_code for r in racing) == [201] * 5 + [422] * 5
    refused = next(r for r in racing if r.status_code == 422).json()
    assert refused["code"] == "too_many_tasks"
    assert refused["details"]["limit"] == MAX_TASKS_PER_CASE
    tasks = await tasks_of(client, case_id)
    assert [t["position"] for t in tasks] == list(range(MAX_TASKS_PER_CASE))
    # Deleting one makes room again.
    assert (await client.delete(f"{url}/{tasks[0]['id']}")).status_code == 204
    assert (await client.post(url, json={"title": "one more"})).status_code == 201
