"""The SLA scanner on real Postgres: sla.pre_breach and sla.breached recorded once each
per case and target, through the case store (one audit event and one outbox row each).
Cases are moved into the past instead of waiting; the threshold is injected."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import text

from libs.common.casestore.store import CaseStore
from libs.common.db.engine import SessionFactory, transaction
from libs.common.settings import KafkaSettings
from services.cases.settings import SlaScannerSettings
from services.cases.sla_scanner import SLA_SCANNER_LOCK_KEY, SlaScanner
from tests.cases.conftest import cases_settings, serve_cases
from tests.cases.test_lifecycle import move
from tests.casestore.test_case_store import events_and_outbox
from tests.support.time_travel import age_case

SLA_TYPES = ("sla.pre_breach", "sla.breached")


def scanner(sessions: SessionFactory, ratio: float = 0.8) -> SlaScanner:
    settings = SlaScannerSettings(pre_breach_ratio=ratio)
    return SlaScanner(sessions, CaseStore("casestream/cases"), settings)


async def medium_case(client: httpx.AsyncClient) -> uuid.UUID:
    """Due: ack after 60 minutes, resolve after 24 hours (the defaults)."""
    response = await client.post("/api/v1/cases", json={"title": "t", "severity": "medium"})
    assert response.status_code == 201
    return uuid.UUID(response.json()["id"])


async def sla_events(sessions: SessionFactory, case_id: uuid.UUID) -> list[tuple[str, str]]:
    events, outbox = await events_and_outbox(sessions, case_id)
    assert [o.event_id for o in outbox] == [e.event_id for e in events]
    return [(e.type, e.payload["target"]) for e in events if e.type in SLA_TYPES]


async def test_warning_then_breach_once_each(
    client: httpx.AsyncClient, sessions: SessionFactory
) -> None:
    case_id = await medium_case(client)
    await age_case(sessions, case_id, timedelta(minutes=50))  # 83% of the ack target
    await scanner(sessions).scan_once()
    await scanner(sessions).scan_once()  # nothing new is owed
    assert await sla_events(sessions, case_id) == [("sla.pre_breach", "ack")]

    await age_case(sessions, case_id, timedelta(minutes=15))  # 65 minutes: ack overdue
    await scanner(sessions).scan_once()
    await scanner(sessions).scan_once()
    assert await sla_events(sessions, case_id) == [
        ("sla.pre_breach", "ack"),
        ("sla.breached", "ack"),
    ]
    events, outbox = await events_and_outbox(sessions, case_id)
    breach = events[-1].payload
    assert (breach["actor"], breach["severity"], breach["status"]) == (
        "system:sla",
        "medium",
        "new",
    )
    case = (await client.get(f"/api/v1/cases/{case_id}")).json()
    assert breach["due_at"].replace("Z", "+00:00") == case["ack_due_at"].replace("Z", "+00:00")
    assert (outbox[-1].topic, outbox[-1].headers["ce_type"]) == (
        "cases.events.v1",
        "casestream.sla.breached.v1",
    )
    verdict = (await client.get(f"/api/v1/cases/{case_id}/audit/verify")).json()
    assert verdict["valid"] is True


async def test_the_threshold_is_configurable(
    client: httpx.AsyncClient, sessions: SessionFactory
) -> None:
    case_id = await medium_case(client)
    await age_case(sessions, case_id, timedelta(minutes=50))
    await scanner(sessions, ratio=0.9).scan_once()  # 50 of 60 minutes is under 90%
    assert await sla_events(sessions, case_id) == []
    await scanner(sessions, ratio=0.5).scan_once()
    assert await sla_events(sessions, case_id) == [("sla.pre_breach", "ack")]


async def test_a_case_found_overdue_gets_the_breach_without_a_late_warning(
    client: httpx.AsyncClient, sessions: SessionFactory
) -> None:
    acked, closed = await medium_case(client), await medium_case(client)
    assert (await move(client, str(acked), status="acknowledged")).status_code == 200
    done = await move(client, str(closed), status="closed", classification="benign")
    assert done.status_code == 200
    for case_id in (acked, closed):
        await age_case(sessions, case_id, timedelta(hours=25))
    await scanner(sessions).scan_once()
    # Acknowledged in time: only the resolve target is owed, and it is already past.
    assert await sla_events(sessions, acked) == [("sla.breached", "resolve")]
    assert await sla_events(sessions, closed) == []


async def test_only_the_lock_holder_scans(
    client: httpx.AsyncClient, sessions: SessionFactory
) -> None:
    case_id = await medium_case(client)
    await age_case(sessions, case_id, timedelta(hours=2))
    async with transaction(sessions) as other_instance:
        await other_instance.execute(
            text("SELECT pg_advisory_xact_lock(:k)"), {"k": SLA_SCANNER_LOCK_KEY}
        )
        assert await scanner(sessions).scan_once() == 0
        assert await sla_events(sessions, case_id) == []
    assert await scanner(sessions).scan_once() >= 1
    assert await sla_events(sessions, case_id) == [("sla.breached", "ack")]


async def test_the_service_scans_in_the_background(
    kafka_settings: KafkaSettings, database_url: str, tenant: str, sessions: SessionFactory
) -> None:
    settings = cases_settings(
        kafka_settings, database_url, tenant, SlaScannerSettings(interval_seconds=0.05)
    )
    async with serve_cases(settings) as client:
        case_id = await medium_case(client)
        await age_case(sessions, case_id, timedelta(hours=2))
        timeline: list[Any] = []
        for _ in range(200):
            timeline = (await client.get(f"/api/v1/cases/{case_id}")).json()["timeline"]
            if any(e["type"] == "sla.breached" for e in timeline):
                break
            await asyncio.sleep(0.05)
        assert [(e["type"], e["actor"]) for e in timeline][-1] == ("sla.breached", "system:sla")


async def test_the_store_records_a_notice_once_even_when_asked_twice(
    client: httpx.AsyncClient, sessions: SessionFactory, tenant: str
) -> None:
    case_id = await medium_case(client)
    await age_case(sessions, case_id, timedelta(hours=2))
    store, now = CaseStore("casestream/cases"), datetime.now(UTC)
    counts = []
    for _ in range(2):  # e.g. a stale candidate list: the store decides under the row lock
        async with transaction(sessions) as session:
            counts.append(
                await store.record_sla_notices(session, tenant, case_id, now, 0.8, "system:sla")
            )
    assert counts == [1, 0]
    assert await sla_events(sessions, case_id) == [("sla.breached", "ack")]
