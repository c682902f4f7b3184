"""Tasks follow merges over real HTTP: the target inherits the sources' tasks after its
own, an unmerge gives them back, and a merge past the task limit is refused."""

from __future__ import annotations

import httpx

from libs.common.casestore.tasks import MAX_TASKS_PER_CASE
from libs.common.contracts.cases import (
    CaseAlertRemovedV1,
    CaseMergedFromV1,
    CaseMergedIntoV1,
    CaseUnmergedV1,
)
from libs.common.db.engine import SessionFactory
from tests.cases.task_support import (
    add_task,
    audit_is_valid,
    published_events,
    tasks_of,
    titles,
)
from tests.cases.test_merge import detail, merge, three_cases
from tests.cases.test_unmerge import unmerge


async def test_the_target_inherits_the_sources_tasks_after_its_own(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    h1, h2, h3 = await three_cases(client, sessions, tenant)
    await add_task(client, h1["id"], "a1")
    await add_task(client, h2["id"], "b1")
    b2 = await add_task(client, h2["id"], "b2", status="done")
    await add_task(client, h3["id"], "c1")
    await add_task(client, h2["id"], "b0", position=0)

    response = await merge(client, h1["id"], h2["id"], h3["id"])
    assert response.status_code == 200, response.text
    moved = response.json()["moved_task_ids"]
    assert await titles(client, h1["id"]) == [(0, "a1"), (1, "b0"), (2, "b1"), (3, "b2"), (4, "c1")]
    target_tasks = await tasks_of(client, h1["id"])
    assert moved == [t["id"] for t in target_tasks[1:]]
    # A moved task is the same task: status, completion and author unchanged.
    (done,) = [t for t in target_tasks if t["id"] == b2]
    assert (done["status"], done["created_by"], done["case_id"]) == ("done", "ana", h1["id"])
    assert done["completed_at"] is not None
    assert (await detail(client, h1["id"]))["task_counts"] == {
        "open": 4,
        "done": 1,
        "cancelled": 0,
        "total": 5,
    }
    for source, names in ((h2, ["b0", "b1", "b2"]), (h3, ["c1"])):
        assert await tasks_of(client, source["id"]) == []
        merged_into = (await published_events(sessions, source["id"]))[-1]
        assert isinstance(merged_into, CaseMergedIntoV1)
        by_id = {t["id"]: t["title"] for t in target_tasks}
        assert [by_id[str(t)] for t in merged_into.task_ids] == names
        assert await audit_is_valid(client, source["id"])
    merged_from = (await published_events(sessions, h1["id"]))[-1]
    assert isinstance(merged_from, CaseMergedFromV1)
    assert [str(t) for t in merged_from.task_ids] == moved
    assert await audit_is_valid(client, h1["id"])


async def test_unmerge_gives_back_the_tasks_that_are_left(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    h1, h2, h3 = await three_cases(client, sessions, tenant)
    await add_task(client, h1["id"], "a1")
    b1 = await add_task(client, h2["id"], "b1")
    b2 = await add_task(client, h2["id"], "b2")
    b3 = await add_task(client, h2["id"], "b3")
    await add_task(client, h3["id"], "c1")
    assert (await merge(client, h1["id"], h2["id"], h3["id"])).status_code == 200
    # While merged: the target's tasks change, and the merged case still takes tasks.
    assert (await client.delete(f"/api/v1/cases/{h1['id']}/tasks/{b2}")).status_code == 204
    await add_task(client, h1["id"], "a2", position=0)
    await add_task(client, h2["id"], "while merged")
    renamed = await client.patch(f"/api/v1/cases/{h1['id']}/tasks/{b3}", json={"title": "B3"})
    assert renamed.status_code == 200

    response = await unmerge(client, h2["id"])
    assert response.status_code == 200, response.text
    assert response.json()["restored_task_ids"] == [b1, b3]
    assert await titles(client, h2["id"]) == [(0, "b1"), (1, "B3"), (2, "while merged")]
    assert await titles(client, h1["id"]) == [(0, "a2"), (1, "a1"), (2, "c1")]
    assert (await detail(client, h2["id"]))["task_counts"]["total"] == 3

    unmerged = (await published_events(sessions, h2["id"]))[-1]
    assert isinstance(unmerged, CaseUnmergedV1)
    assert [str(t) for t in unmerged.task_ids] == [b1, b3]
    removed = (await published_events(sessions, h1["id"]))[-1]
    assert isinstance(removed, CaseAlertRemovedV1)
    assert ([str(t) for t in removed.task_ids], removed.reason) == ([b1, b3], "unmerge")
    for case_id in (h1["id"], h2["id"]):
        assert await audit_is_valid(client, case_id)
    # The returned tasks are the unmerged case's again.
    back = await client.patch(f"/api/v1/cases/{h2['id']}/tasks/{b1}", json={"status": "done"})
    assert back.status_code == 200
    on_target = await client.get(f"/api/v1/cases/{h1['id']}/tasks/{b1}")
    assert on_target.status_code == 404


async def test_a_merge_past_the_task_limit_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    h1, h2, h3 = await three_cases(client, sessions, tenant)
    for n in range(MAX_TASKS_PER_CASE - 2):
        await add_task(client, h1["id"], f"a{n}")
    await add_task(client, h2["id"], "b1")
    await add_task(client, h3["id"], "c1")
    await add_task(client, h3["id"], "c2")

    refused = await merge(client, h1["id"], h2["id"], h3["id"])
    assert (refused.status_code, refused.json()["code"]) == (422, "too_many_tasks")
    details = refused.json()["details"]
    assert (details["limit"], details["tasks"], details["adding"]) == (MAX_TASKS_PER_CASE, 98, 3)
    assert details["case_id"] == h1["id"]
    assert (await detail(client, h2["id"]))["status"] == "new"
    assert [t["title"] for t in await tasks_of(client, h3["id"])] == ["c1", "c2"]
    assert len(await tasks_of(client, h1["id"])) == MAX_TASKS_PER_CASE - 2

    # Exactly up to the limit is fine.
    assert (await merge(client, h1["id"], h3["id"])).status_code == 200
    assert len(await tasks_of(client, h1["id"])) == MAX_TASKS_PER_CASE
