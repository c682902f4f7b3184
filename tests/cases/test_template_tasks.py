"""Case templates with tasks: defined and checked over the admin API, and created with
the case, in its transaction, each audited as case.task_added naming the template."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from libs.common.contracts.cases import CaseTaskAddedV1
from libs.common.db.engine import SessionFactory
from services.cases.templates_schemas import MAX_DUE_IN_MINUTES, MAX_TEMPLATE_TASKS
from tests.cases.conftest import ADMIN_HEADERS
from tests.cases.custom_field_support import EVERY_TYPE, api, define
from tests.cases.task_support import audit_is_valid, published_events, tasks_of
from tests.cases.test_case_templates import put_template

__all__ = ["api"]  # the fixture, imported for pytest

PHISHING_TASKS: list[dict[str, Any]] = [
    {"title": "Pull the message from every mailbox", "due_in_minutes": 30},
    {
        "title": "Check who clicked",
        "description": "Proxy logs, **24 h** before delivery",
        "assignee": "soc-l2",
    },
    {"title": "Reset exposed credentials", "due_in_minutes": 240, "assignee": "iam"},
]


async def test_a_template_keeps_its_tasks(api: httpx.AsyncClient) -> None:
    created = await put_template(api, "phishing", {"tasks": PHISHING_TASKS})
    assert created.status_code == 201, created.text
    stored = (await api.get("/api/v1/admin/case-templates/phishing", headers=ADMIN_HEADERS)).json()
    defaults = {"description": None, "assignee": None, "due_in_minutes": None}
    assert stored["tasks"] == [{**defaults, **task} for task in PHISHING_TASKS]
    replaced = await put_template(api, "phishing", {"tasks": PHISHING_TASKS[:1]})
    assert [t["title"] for t in replaced.json()["tasks"]] == [PHISHING_TASKS[0]["title"]]


@pytest.mark.parametrize(
    ("task", "problem"),
    [
        ({"title": ""}, "at least 1 character"),
        ({"title": "   "}, "cannot be blank"),
        ({"title": "x" * 257}, "at most 256"),
        ({"title": "t", "description": "d" * 8_193}, "at most 8192"),
        ({"title": "t", "assignee": " "}, "cannot be blank"),
        ({"title": "t", "due_in_minutes": 0}, "greater than or equal to 1"),
        ({"title": "t", "due_in_minutes": MAX_DUE_IN_MINUTES + 1}, str(MAX_DUE_IN_MINUTES)),
        ({"title": "t", "status": "done"}, "Extra inputs"),
        ({"description": "no title"}, "Field required"),
    ],
)
async def test_bad_template_tasks_are_named(
    api: httpx.AsyncClient, task: dict[str, Any], problem: str
) -> None:
    response = await put_template(api, "broken", {"tasks": [task]})
    assert (response.status_code, response.json()["code"]) == (422, "invalid_request")
    assert problem in response.text
    missing = await api.get("/api/v1/admin/case-templates/broken", headers=ADMIN_HEADERS)
    assert missing.status_code == 404


async def test_at_most_the_limit_of_tasks_per_template(api: httpx.AsyncClient) -> None:
    tasks = [{"title": f"t{n}"} for n in range(MAX_TEMPLATE_TASKS + 1)]
    over = await put_template(api, "long", {"tasks": tasks})
    assert over.status_code == 422
    assert f"at most {MAX_TEMPLATE_TASKS} items" in over.text
    assert (await put_template(api, "long", {"tasks": tasks[:-1]})).status_code == 201


async def test_a_case_opened_with_the_template_starts_with_its_tasks(
    api: httpx.AsyncClient, sessions: SessionFactory
) -> None:
    await put_template(api, "phishing", {"title_prefix": "[P] ", "tasks": PHISHING_TASKS})
    created = await api.post("/api/v1/cases", json={"title": "lure", "template": "phishing"})
    assert created.status_code == 201, created.text
    case = created.json()
    opened_at = datetime.fromisoformat(case["created_at"])
    assert [(t["position"], t["title"], t["status"]) for t in case["tasks"]] == [
        (n, task["title"], "todo") for n, task in enumerate(PHISHING_TASKS)
    ]
    due = [t["due_at"] and datetime.fromisoformat(t["due_at"]) for t in case["tasks"]]
    assert due == [opened_at + timedelta(minutes=30), None, opened_at + timedelta(minutes=240)]
    assert [t["assignee"] for t in case["tasks"]] == [None, "soc-l2", "iam"]
    assert case["tasks"][1]["description"] == "Proxy logs, **24 h** before delivery"
    assert case["task_counts"] == {"open": 3, "done": 0, "cancelled": 0, "total": 3}

    # case.opened, then one case.task_added per task, each with its outbox row.
    events = await published_events(sessions, case["id"])
    assert [e.type for e in events] == ["case.opened", *["case.task_added"] * 3]
    added = [e for e in events if isinstance(e, CaseTaskAddedV1)]
    assert [(str(e.task_id), e.template, e.actor) for e in added] == [
        (t["id"], "phishing", "ana") for t in case["tasks"]
    ]
    assert await audit_is_valid(api, case["id"])

    # The template's tasks are the case's own: changing the template changes no case.
    await put_template(api, "phishing", {"tasks": []})
    assert len(await tasks_of(api, case["id"])) == 3
    plain = await api.post("/api/v1/cases", json={"title": "no template"})
    assert (plain.json()["tasks"], plain.json()["task_counts"]["total"]) == ([], 0)


async def test_a_refused_opening_leaves_no_tasks(
    api: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    await define(api, "region", EVERY_TYPE["region"])
    await put_template(
        api, "phishing", {"custom_fields": {"region": "emea"}, "tasks": PHISHING_TASKS}
    )
    # Narrowed after the template was saved: its "emea" is refused when a case is opened.
    await define(api, "region", {**EVERY_TYPE["region"], "options": ["apac"]})
    refused = await api.post("/api/v1/cases", json={"title": "t", "template": "phishing"})
    assert refused.status_code == 422
    async with sessions() as session:
        count = await session.scalar(
            text("SELECT count(*) FROM case_tasks WHERE tenant_id = :t"), {"t": tenant}
        )
    assert count == 0
    assert (await api.get("/api/v1/cases")).json()["total"] == 0
