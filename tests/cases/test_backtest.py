"""The backtest over real stored alerts, through the API and the CLI: what a candidate
policy would have made, the difference from live, and nothing written."""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from libs.common.casestore.store import CaseStore
from libs.common.db.engine import SessionFactory, transaction
from services.alerting.service import GroupingService
from tests.cases.conftest import ADMIN_HEADERS
from tests.support.detections import detection, host_rule_policy

LIVE = GroupingService(CaseStore("casestream/alerting-test"), host_rule_policy())
RANGE = {"start": "2026-03-01T00:00:00Z", "end": "2026-03-02T00:00:00Z"}
BY_HOST = {"grouping": {"strategy": "entity", "entity_types": ["host"], "window_seconds": 3600}}


async def seed(sessions: SessionFactory, tenant: str) -> None:
    batch = [
        detection(tenant, "a1", host="h1", rule="r1", minutes=0),
        detection(tenant, "a2", host="h1", rule="r1", minutes=5),
        detection(tenant, "b1", host="h1", rule="r2", minutes=10),
        detection(tenant, "c1", host="h2", rule="r1", minutes=0),
    ]
    async with transaction(sessions) as session:
        await LIVE.process(session, batch)


async def counts(sessions: SessionFactory, tenant: str) -> tuple[int, int]:
    async with sessions() as session:
        row = (
            await session.execute(
                text(
                    "SELECT (SELECT count(*) FROM cases WHERE tenant_id = :t),"
                    " (SELECT count(*) FROM case_events WHERE tenant_id = :t)"
                ),
                {"t": tenant},
            )
        ).one()
    return int(row[0]), int(row[1])


async def backtest(client: httpx.AsyncClient, body: dict[str, Any]) -> httpx.Response:
    return await client.post("/api/v1/grouping/backtest", json=body, headers=ADMIN_HEADERS)


async def test_a_candidate_is_compared_with_live_cases_and_nothing_changes(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    await seed(sessions, tenant)
    before = await counts(sessions, tenant)
    response = await backtest(client, {**RANGE, "policy": BY_HOST})
    assert response.status_code == 200, response.text
    body = response.json()
    report = body["report"]
    assert body["policy_version"] is None  # a candidate, not a stored version
    assert (report["detections"], report["live"]["cases"], report["candidate"]["cases"]) == (
        4,
        3,
        2,
    )
    assert report["difference"] == {
        "unchanged_cases": 1,  # h2's case
        "split_live_cases": 0,
        "merged_candidate_cases": 1,  # h1's two rules in one case
        "moved_detections": 0,
        "newly_uncased": 0,
        "newly_cased": 0,
    }
    largest = report["cases"][0]
    assert (largest["group_key"], largest["detections"], largest["rules"]) == (
        "entity:host=h1",
        3,
        ["r1", "r2"],
    )
    assert len(largest["live_case_ids"]) == 2
    assert await counts(sessions, tenant) == before


async def test_a_candidate_that_keeps_noise_out_of_cases_says_how_much(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    await seed(sessions, tenant)
    candidate = {"case_creation": {"mode": "tailored", "rules": ["r2"]}, **BY_HOST}
    report = (await backtest(client, {**RANGE, "policy": candidate})).json()["report"]
    # Sorted by event time per key, h1's r1 alerts come before r2 could open the case.
    assert report["uncased"] == {"not_tailored": 3}
    assert report["difference"]["newly_uncased"] == 3


async def test_bad_requests_and_callers_are_refused(client: httpx.AsyncClient) -> None:
    reversed_range = {"start": RANGE["end"], "end": RANGE["start"]}
    response = await backtest(client, reversed_range)
    assert response.status_code == 422
    assert "end must be after start" in str(response.json())
    analyst = await client.post("/api/v1/grouping/backtest", json=RANGE)  # analyst key
    assert analyst.status_code == 401


async def test_the_cli_prints_the_same_report(
    sessions: SessionFactory, tenant: str, database_url: str, tmp_path: Path
) -> None:
    await seed(sessions, tenant)
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps(BY_HOST))
    command = [
        sys.executable, "-m", "services.cases.backtest", "--tenant", tenant,
        "--start", "2026-03-01T00:00:00+00:00", "--end", "2026-03-02T00:00:00+00:00",
        "--policy", str(policy),
    ]  # fmt: skip
    env = {**os.environ, "CASESTREAM__DATABASE__URL": database_url}
    done = await asyncio.to_thread(
        subprocess.run, command, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)["report"]
    assert (report["live"]["cases"], report["candidate"]["cases"]) == (3, 2)


async def test_the_chain_strategy_replays_shared_events(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    # Live (host+rule): three cases. The r2 detection on h1 and the h2 one matched one event.
    batch = [
        detection(tenant, "a1", host="h1", rule="r1", minutes=0),
        detection(tenant, "b1", host="h1", rule="r2", minutes=10).model_copy(
            update={"matched_event_ids": ["ev-1"]}
        ),
        detection(tenant, "c1", host="h2", rule="r1", minutes=11).model_copy(
            update={"matched_event_ids": ["ev-1"]}
        ),
    ]
    async with transaction(sessions) as session:
        await LIVE.process(session, batch)
    chained = {"grouping": {"strategy": "chain", "chain_fallback": "new_case"}}
    report = (await backtest(client, {**RANGE, "policy": chained})).json()["report"]
    assert (report["live"]["cases"], report["candidate"]["cases"]) == (3, 2)
    largest = report["cases"][0]
    assert (largest["detections"], largest["rules"]) == (2, ["r1", "r2"])
    assert report["difference"]["merged_candidate_cases"] == 1


async def test_live_cases_of_shuffled_batches_are_what_the_backtest_replays(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    """Issue 4: a backfill groups as it would have live. Detections that arrived out of
    event-time order, in batches cut anywhere, made the cases a replay in time order
    makes: the backtest of the live policy finds no difference."""
    rng = random.Random(9)
    arrivals = [
        detection(tenant, f"{host}-{burst}-{n}", host=host, minutes=burst * 150 + n * 11)
        for host in ("h1", "h2")
        for burst in range(3)
        for n in range(5)
    ]
    rng.shuffle(arrivals)
    for start in range(0, len(arrivals), 4):
        async with transaction(sessions) as session:
            await LIVE.process(session, arrivals[start : start + 4])
    same = {"grouping": {"strategy": "host+rule", "window_seconds": 3600}}
    response = await backtest(client, {**RANGE, "policy": same})
    assert response.status_code == 200, response.text
    report = response.json()["report"]
    assert (report["live"]["cases"], report["candidate"]["cases"]) == (6, 6)
    assert report["difference"] == {
        "unchanged_cases": 6,
        "split_live_cases": 0,
        "merged_candidate_cases": 0,
        "moved_detections": 0,
        "newly_uncased": 0,
        "newly_cased": 0,
    }
