"""Helpers of the retention tests: a tenant policy with retention, closed cases, a purger
whose clock runs ahead (so nobody ages rows by hand), and what is left of a case."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import text

from libs.common.casestore.purge_repository import CASE_TABLES
from libs.common.casestore.store import CaseStore
from libs.common.db.engine import SessionFactory
from libs.common.objectstore import ObjectStore
from services.cases.retention_purger import RetentionPurger
from services.cases.settings import RetentionPurgerSettings
from tests.cases.conftest import ADMIN_HEADERS

POLICY = "/api/v1/admin/case-policy"


async def set_retention(client: httpx.AsyncClient, days: int | None) -> dict[str, Any]:
    current = (await client.get(POLICY, headers=ADMIN_HEADERS)).json()
    body = {"version": current["version"], "retention_days": days}
    response = await client.put(POLICY, json=body, headers=ADMIN_HEADERS)
    assert response.status_code == 200, response.text
    policy: dict[str, Any] = response.json()
    return policy


async def close(client: httpx.AsyncClient, case_id: uuid.UUID | str) -> None:
    for patch in (
        {"status": "resolved", "classification": "false_positive"},
        {"status": "closed"},
    ):
        response = await client.patch(f"/api/v1/cases/{case_id}", json=patch)
        assert response.status_code == 200, response.text


def purger(
    sessions: SessionFactory,
    days_ahead: float,
    batch_size: int = 100,
    objects: ObjectStore | None = None,
) -> RetentionPurger:
    """A purger living `days_ahead` days in the future (without an object store unless
    given one: it then leaves purged attachments' objects noted)."""
    later = timedelta(days=days_ahead)
    return RetentionPurger(
        sessions,
        CaseStore("casestream/cases"),
        RetentionPurgerSettings(batch_size=batch_size),
        clock=lambda: datetime.now(UTC) + later,
        objects=objects,
    )


async def published(sessions: SessionFactory, tenant: str, within_seconds: float = 15) -> None:
    """Wait until the outbox relay of the served app has sent every row of the tenant."""
    async with asyncio.timeout(within_seconds):
        while True:
            async with sessions() as session:
                unsent = await session.scalar(
                    text("SELECT count(*) FROM outbox WHERE tenant_id = :t AND sent_at IS NULL"),
                    {"t": tenant},
                )
            if unsent == 0:
                return
            await asyncio.sleep(0.05)


async def rows_of(sessions: SessionFactory, case_ids: Sequence[uuid.UUID]) -> dict[str, int]:
    """Rows still pointing at the cases, per table (tables of CASE_TABLES, the audit
    trail, the cases themselves and their events' outbox rows)."""
    ids = list(case_ids)
    counts: dict[str, int] = {}
    async with sessions() as session:
        for table, columns in [*CASE_TABLES.items(), ("case_events", ("case_id",))]:
            matches = " OR ".join(f"{column} = ANY(:ids)" for column in columns)
            counts[table] = await session.scalar(
                text(f"SELECT count(*) FROM {table} WHERE {matches}"),  # noqa: S608
                {"ids": ids},
            )
        counts["cases"] = await session.scalar(
            text("SELECT count(*) FROM cases WHERE id = ANY(:ids)"), {"ids": ids}
        )
        counts["outbox"] = await session.scalar(
            text(
                "SELECT count(*) FROM outbox WHERE topic = 'cases.events.v1'"
                " AND key = ANY(:keys) AND payload->>'type' <> 'case.purged'"
            ),
            {"keys": [str(i) for i in ids]},
        )
    return counts


async def tombstones(sessions: SessionFactory, tenant: str) -> dict[uuid.UUID, Any]:
    async with sessions() as session:
        rows = await session.execute(
            text("SELECT * FROM case_purges WHERE tenant_id = :t"), {"t": tenant}
        )
        return {row.case_id: row for row in rows}


async def purge_messages(sessions: SessionFactory, case_id: uuid.UUID) -> list[Any]:
    async with sessions() as session:
        rows = await session.execute(
            text(
                "SELECT key, headers, payload FROM outbox WHERE topic = 'cases.events.v1'"
                " AND key = :k AND payload->>'type' = 'case.purged'"
            ),
            {"k": str(case_id)},
        )
        return list(rows)


async def age_closure(sessions: SessionFactory, case_id: uuid.UUID, by: timedelta) -> None:
    """As if the case had been closed `by` earlier."""
    async with sessions() as session, session.begin():
        await session.execute(
            text("UPDATE cases SET closed_at = closed_at - CAST(:by AS interval) WHERE id = :c"),
            {"by": by, "c": case_id},
        )
