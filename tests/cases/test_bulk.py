"""Bulk case changes over real HTTP on real Postgres: a job per request, run in the
background of the cases service, watched through GET, one result per case."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
from sqlalchemy import text

from libs.common.casestore.store import CaseOpening, CaseStore, NewCase
from libs.common.contracts.detections import Severity
from libs.common.db.engine import SessionFactory, transaction
from libs.common.http import Principal
from libs.common.settings import KafkaSettings
from services.cases.bulk_schemas import BulkIn
from services.cases.bulk_service import BulkJobService
from tests.cases.conftest import cases_settings, serve_cases
from tests.cases.test_merge import OUTSIDER_HEADERS, detail
from tests.casestore.test_case_store import events_and_outbox

BULK = "/api/v1/cases/bulk"


async def open_cases(sessions: SessionFactory, tenant: str, count: int, **fields: Any) -> list[str]:
    openings = [
        CaseOpening(
            NewCase(**{"severity": Severity.MEDIUM, **fields}, tenant_id=tenant, title=f"case {n}"),
            [],
        )
        for n in range(count)
    ]
    async with transaction(sessions) as session:
        written = await CaseStore("test").apply_grouping(session, tenant, openings, [], "tester")
    return [str(case.id) for case in written.opened]


async def finished(
    client: httpx.AsyncClient, job_id: str, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    for _ in range(200):
        response = await client.get(f"{BULK}/{job_id}", headers=headers)
        assert response.status_code == 200, response.text
        job: dict[str, Any] = response.json()
        if job["status"] == "done":
            return job
        await asyncio.sleep(0.05)
    raise AssertionError(f"bulk job {job_id} did not finish: {job['progress']}")


async def run(client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(BULK, json=body)
    assert response.status_code == 202, response.text
    created = response.json()
    assert created["status"] in ("queued", "running", "done")
    return await finished(client, created["id"])


def outcomes(job: dict[str, Any]) -> dict[str, tuple[str, Any]]:
    return {
        i["case_id"]: (i["outcome"], (i["error"] or {}).get("code") or i["changed"])
        for i in job["items"]
    }


async def test_each_case_changes_in_its_own_transaction_and_a_409_stops_nothing(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    first, second, closed = await open_cases(sessions, tenant, 3, severity=Severity.LOW)
    done = {"status": "closed", "classification": "benign"}
    assert (await client.patch(f"/api/v1/cases/{closed}", json=done)).status_code == 200
    theirs = (
        await client.post("/api/v1/cases", json={"title": "x"}, headers=OUTSIDER_HEADERS)
    ).json()["id"]
    before = await detail(client, closed)

    change = {"status": "acknowledged", "assignee": "bob", "tags_add": ["phish"]}
    job = await run(client, {"ids": [first, closed, theirs, second], "change": change})

    assert (job["dry_run"], job["created_by"]) == (False, "ana")
    assert job["progress"] == {"total": 4, "done": 4, "changed": 2, "unchanged": 0, "failed": 2}
    assert [i["case_id"] for i in job["items"]] == [first, closed, theirs, second]
    assert outcomes(job) == {
        first: ("changed", ["assignee", "tags", "status"]),
        second: ("changed", ["assignee", "tags", "status"]),
        closed: ("failed", "illegal_transition"),
        theirs: ("failed", "not_found"),
    }
    failed = next(i for i in job["items"] if i["case_id"] == closed)
    assert failed["error"]["status"] == 409
    assert "cannot move a case from closed to acknowledged" in failed["error"]["message"]

    changed = await detail(client, first)
    assert (changed["status"], changed["assignee"], changed["tags"]) == (
        "acknowledged",
        "bob",
        ["phish"],
    )
    assert [(e["type"], e["actor"]) for e in changed["timeline"][1:]] == [
        ("case.assigned", "ana"),
        ("case.tags_updated", "ana"),
        ("case.status_changed", "ana"),
    ]
    events, outbox = await events_and_outbox(sessions, uuid.UUID(first))
    assert [o.event_id for o in outbox] == [e.event_id for e in events]

    # The refused case's field changes were rolled back with its status change.
    after = await detail(client, closed)
    assert (after["assignee"], after["tags"], len(after["timeline"])) == (
        None,
        [],
        len(before["timeline"]),
    )
    untouched = await detail(client, theirs, headers=OUTSIDER_HEADERS)
    assert (untouched["assignee"], len(untouched["timeline"])) == (None, 1)

    again = await run(client, {"ids": [first, second], "change": change})
    assert again["progress"]["unchanged"] == 2
    assert len((await detail(client, first))["timeline"]) == len(changed["timeline"])


async def test_a_dry_run_reports_each_result_and_writes_nothing(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    open_one, closing = await open_cases(sessions, tenant, 2)
    body = {
        "ids": [open_one, closing],
        "change": {"status": "closed", "classification": "true_positive", "severity": "high"},
        "dry_run": True,
    }
    job = await run(client, body)
    assert job["dry_run"] is True
    assert outcomes(job) == {
        open_one: ("changed", ["classification", "severity", "status"]),
        closing: ("changed", ["classification", "severity", "status"]),
    }
    for case_id in (open_one, closing):
        case = await detail(client, case_id)
        assert (case["status"], case["severity"], len(case["timeline"])) == ("new", "medium", 1)
        _, outbox = await events_and_outbox(sessions, uuid.UUID(case_id))
        assert len(outbox) == 1

    missing = await run(client, {**body, "change": {"status": "closed"}})
    assert {code for _, code in outcomes(missing).values()} == {"missing_required_fields"}


async def test_a_filter_selects_the_cases_and_tags_can_be_removed(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    high = await open_cases(sessions, tenant, 2, severity=Severity.HIGH, tags=("Phish", "vip"))
    low = await open_cases(sessions, tenant, 1, severity=Severity.LOW, tags=("phish",))
    other = await open_cases(sessions, tenant, 1, severity=Severity.HIGH)
    body = {
        "filter": {"severity": ["high"], "tags": ["PHISH"], "assignee": None},
        "change": {"tags_remove": ["phish"], "tags_add": ["triaged"]},
    }
    job = await run(client, body)
    assert {i["case_id"] for i in job["items"]} == set(high)
    assert (await detail(client, high[0]))["tags"] == ["vip", "triaged"]
    assert (await detail(client, low[0]))["tags"] == ["phish"]
    assert (await detail(client, other[0]))["tags"] == []
    assert job["request"]["filter"]["tags"] == ["PHISH"]


async def test_a_filter_matching_more_than_200_cases_is_refused_by_name(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    await open_cases(sessions, tenant, 201, severity=Severity.INFO)
    response = await client.post(
        BULK, json={"filter": {"severity": ["info"]}, "change": {"assignee": "bob"}}
    )
    assert (response.status_code, response.json()["code"]) == (422, "invalid_input")
    assert response.json()["details"]["limit"] == 200
    assert "more than 200 cases" in response.json()["message"]
    listed = (await client.get("/api/v1/cases", params={"limit": 200})).json()["items"]
    assert {c["assignee"] for c in listed} == {None}


async def test_bad_requests_are_named(client: httpx.AsyncClient) -> None:
    some = [str(uuid.uuid4()) for _ in range(3)]
    refusals = [
        (
            {"ids": [str(uuid.uuid4()) for _ in range(201)], "change": {"assignee": "x"}},
            "at most 200 cases",
        ),
        (
            {"ids": some, "filter": {"severity": ["low"]}, "change": {"assignee": "x"}},
            "either ids or a filter",
        ),
        ({"change": {"assignee": "x"}}, "either ids or a filter"),
        ({"ids": [some[0], some[0]], "change": {"assignee": "x"}}, "named more than once"),
        ({"ids": some, "change": {}}, "nothing to change"),
        ({"ids": some, "change": {"reason": "x"}}, "nothing to change"),
        ({"ids": some, "change": {"status": None}}, "cannot be null: status"),
        ({"filter": {}, "change": {"assignee": "x"}}, "at least one criterion"),
        ({"ids": some, "change": {"priority": 1}}, "Extra inputs are not permitted"),
    ]
    for body, problem in refusals:
        response = await client.post(BULK, json=body)
        assert (response.status_code, response.json()["code"]) == (422, "invalid_request")
        assert problem in response.text, response.text


async def test_jobs_are_per_tenant_and_need_a_key(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    (case_id,) = await open_cases(sessions, tenant, 1)
    job = await run(client, {"ids": [case_id], "change": {"assignee": "bob"}})
    theirs = await client.get(f"{BULK}/{job['id']}", headers=OUTSIDER_HEADERS)
    assert theirs.status_code == 404
    assert (await client.get(f"{BULK}/{uuid.uuid4()}")).status_code == 404
    client.headers.pop("authorization")
    assert (await client.get(f"{BULK}/{job['id']}")).status_code == 401
    no_key = await client.post(BULK, json={"ids": [case_id], "change": {"assignee": "eve"}})
    assert no_key.status_code == 401


async def test_a_job_left_unfinished_is_resumed_when_the_service_starts(
    kafka_settings: KafkaSettings, database_url: str, sessions: SessionFactory, tenant: str
) -> None:
    ids = await open_cases(sessions, tenant, 3)
    body = BulkIn.model_validate({"ids": ids, "change": {"assignee": "carol"}})
    async with transaction(sessions) as session:  # created, then the process "stopped"
        job = await BulkJobService(CaseStore("test")).create_job(
            session, Principal(tenant, "ana"), body
        )
    async with sessions() as session:
        pending = await session.scalar(
            text(
                "SELECT count(*) FROM case_bulk_job_items WHERE job_id = :j AND outcome = 'pending'"
            ),
            {"j": job.id},
        )
    assert pending == 3
    async with serve_cases(cases_settings(kafka_settings, database_url, tenant)) as client:
        resumed = await finished(client, str(job.id))
        assert resumed["progress"]["changed"] == 3
        assert {(await detail(client, i))["assignee"] for i in ids} == {"carol"}
