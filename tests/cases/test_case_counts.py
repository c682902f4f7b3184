"""The list's counts per status: kept per group by Postgres triggers for status, severity
and classification filters, counted (up to a limit) for any other filter. What an analyst
sees must equal the cases themselves after every kind of change, compacted or not."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import text

from libs.common.db.engine import SessionFactory, transaction
from libs.common.settings import KafkaSettings
from services.cases.count_compactor import CountCompactor
from services.cases.settings import CountCompactionSettings, ListSettings
from tests.cases.conftest import ADMIN_HEADERS, cases_settings, serve_cases


async def open_cases(client: httpx.AsyncClient, n: int, **body: Any) -> list[str]:
    gate = asyncio.Semaphore(4)

    async def one(k: int) -> str:
        async with gate:
            response = await client.post(
                "/api/v1/cases", json={"title": f"case {k}", "severity": "low", **body}
            )
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    return list(await asyncio.gather(*(one(k) for k in range(n))))


async def counted_in_sql(
    sessions: SessionFactory, tenant: str, severity: str | None = None
) -> dict[str, int]:
    """The truth: the tenant's live cases grouped by status, straight from the table."""
    async with transaction(sessions) as session:
        rows = await session.execute(
            text(
                "SELECT status, count(*) FROM cases WHERE tenant_id = :t AND deleted_at IS NULL "
                "AND (CAST(:s AS text) IS NULL OR severity = :s) GROUP BY status"
            ),
            {"t": tenant, "s": severity},
        )
        return {status: int(n) for status, n in rows}


async def listed(client: httpx.AsyncClient, **params: str) -> dict[str, Any]:
    response = await client.get("/api/v1/cases", params={"limit": "1", **params})
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


async def test_counts_follow_every_change_and_survive_compaction(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    low = await open_cases(client, 4)
    high = await open_cases(client, 3, severity="high")
    await client.patch(f"/api/v1/cases/{low[0]}", json={"status": "acknowledged"})
    await client.patch(f"/api/v1/cases/{high[0]}", json={"status": "acknowledged"})
    await client.patch(f"/api/v1/cases/{high[0]}", json={"status": "in_progress"})
    await client.patch(f"/api/v1/cases/{low[1]}", json={"severity": "critical"})
    await client.patch(f"/api/v1/cases/{low[2]}", json={"classification": "false_positive"})
    deleted = await client.delete(f"/api/v1/cases/{low[3]}", headers=ADMIN_HEADERS)
    assert deleted.status_code == 204, deleted.text
    # An update that moves no case between groups (a title) changes no count.
    await client.patch(f"/api/v1/cases/{high[1]}", json={"title": "renamed"})

    everything = await listed(client)
    assert everything["counts"] == {"new": 4, "acknowledged": 1, "in_progress": 1}
    assert everything["counts"] == await counted_in_sql(sessions, tenant)
    assert (everything["total"], everything["counts_exact"]) == (6, True)
    by_severity = await listed(client, severity="high")
    assert by_severity["counts"] == await counted_in_sql(sessions, tenant, "high")
    assert by_severity["counts"] == {"new": 2, "in_progress": 1}
    fp = await listed(client, classification="false_positive", status="new")
    assert (fp["counts"], fp["total"]) == ({"new": 1}, 1)

    restored = await client.post(f"/api/v1/cases/{low[3]}/restore", headers=ADMIN_HEADERS)
    assert restored.status_code == 200, restored.text
    before = (await listed(client))["counts"]
    assert before == {"new": 5, "acknowledged": 1, "in_progress": 1}

    compactor = CountCompactor(sessions, CountCompactionSettings())
    assert await compactor.compact_once() > 0
    assert (await listed(client))["counts"] == before == await counted_in_sql(sessions, tenant)
    async with transaction(sessions) as session:
        groups, rows = (
            await session.execute(
                text(
                    "SELECT count(DISTINCT (status, severity, classification)), count(*) "
                    "FROM case_count_deltas WHERE tenant_id = :t"
                ),
                {"t": tenant},
            )
        ).one()
    assert rows == groups  # one row per group after compaction
    assert await compactor.compact_once() == 0  # nothing left to fold


async def test_other_filters_count_their_matches_up_to_the_limit(
    kafka_settings: KafkaSettings, database_url: str, tenant: str
) -> None:
    settings = cases_settings(kafka_settings, database_url, tenant)
    settings.cases.listing = ListSettings(count_limit=100)
    async with serve_cases(settings) as client:
        await open_cases(client, 100, assignee="ana")
        exact = await listed(client, assignee="ana")
        assert (exact["counts"], exact["total"], exact["counts_exact"]) == (
            {"new": 100},
            100,
            True,
        )
        await open_cases(client, 2, assignee="ana")
        capped = await listed(client, assignee="ana")
        # Past the limit the figures are lower bounds, and say so.
        assert (capped["total"], capped["counts_exact"]) == (101, False)
        # Counts kept per group are exact at any size.
        kept = await listed(client, status="new")
        assert (kept["total"], kept["counts_exact"]) == (102, True)
