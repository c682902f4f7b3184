"""Repeats of a detection id are counted on its alert (occurrence count, last seen), never
stored twice; the same occurrence delivered again is not counted again."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import text

from libs.common.casestore.store import CaseStore
from libs.common.contracts.detections import DetectionV1
from libs.common.db.engine import SessionFactory, transaction
from libs.common.policies.alerting import AlertingPolicy, DedupPolicy, GroupingPolicy, Strategy
from libs.common.policies.repository import append_policy
from services.alerting.service import BatchOutcome, GroupingService
from tests.support.detections import T0, detection, host_rule_policy

SERVICE = GroupingService(CaseStore("casestream/alerting-test"), host_rule_policy())


async def process(sessions: SessionFactory, batch: list[DetectionV1]) -> BatchOutcome:
    async with transaction(sessions) as session:
        return await SERVICE.process(session, batch)


async def alerts(sessions: SessionFactory, tenant: str) -> list[dict[str, Any]]:
    async with sessions() as session:
        rows = await session.execute(
            text(
                "SELECT detection_id, occurrence_count, ingested_at, last_seen FROM alerts"
                " WHERE tenant_id = :t ORDER BY detection_id"
            ),
            {"t": tenant},
        )
        return [dict(row._mapping) for row in rows]


async def case_events(sessions: SessionFactory, tenant: str) -> int:
    async with sessions() as session:
        count = await session.scalar(
            text("SELECT count(*) FROM case_events WHERE tenant_id = :t"), {"t": tenant}
        )
        return int(count or 0)


async def test_a_repeat_counts_on_the_alert_and_moves_last_seen(
    sessions: SessionFactory, tenant: str
) -> None:
    await process(sessions, [detection(tenant, "x", occurrence="o1")])
    events = await case_events(sessions, tenant)
    outcome = await process(
        sessions, [detection(tenant, "x", occurrence="o2", ingested_minutes=30)]
    )
    assert (outcome.stored, outcome.duplicates, outcome.repeats) == (0, 1, 1)
    (alert,) = await alerts(sessions, tenant)
    assert alert["occurrence_count"] == 2
    assert alert["ingested_at"] == T0  # first seen stays
    assert alert["last_seen"] == T0 + timedelta(minutes=30)
    assert await case_events(sessions, tenant) == events  # the case itself did not change


async def test_redelivered_occurrences_are_not_counted_again(
    sessions: SessionFactory, tenant: str
) -> None:
    first = [detection(tenant, "x", occurrence="o1")]
    repeat = [detection(tenant, "x", occurrence="o2", ingested_minutes=5)]
    for batch in (first, repeat, first, repeat, first + repeat):
        await process(sessions, batch)
    (alert,) = await alerts(sessions, tenant)
    assert alert["occurrence_count"] == 2


async def test_repeats_inside_one_batch_are_counted(sessions: SessionFactory, tenant: str) -> None:
    batch = [
        detection(tenant, "x", occurrence="o1"),
        detection(tenant, "x", occurrence="o2", ingested_minutes=1),
        detection(tenant, "x", occurrence="o2", ingested_minutes=1),  # producer retry
        detection(tenant, "y", occurrence="o3"),
        detection(tenant, "x", occurrence="o4", ingested_minutes=2),
    ]
    outcome = await process(sessions, batch)
    assert (outcome.stored, outcome.repeats) == (2, 2)
    assert [(a["detection_id"], a["occurrence_count"]) for a in await alerts(sessions, tenant)] == [
        ("x", 3),
        ("y", 1),
    ]
    # The same batch again (a crash before the offset commit) changes nothing.
    await process(sessions, batch)
    assert [a["occurrence_count"] for a in await alerts(sessions, tenant)] == [3, 1]


async def test_a_repeat_without_an_occurrence_id_is_not_counted(
    sessions: SessionFactory, tenant: str
) -> None:
    # Without an occurrence id a repeat cannot be told from a redelivery: never overcount.
    await process(sessions, [detection(tenant, "x")])
    outcome = await process(sessions, [detection(tenant, "x")])
    assert (outcome.duplicates, outcome.repeats) == (1, 0)
    assert [a["occurrence_count"] for a in await alerts(sessions, tenant)] == [1]


async def use_fingerprint(sessions: SessionFactory, tenant: str, *fields: str) -> None:
    policy = AlertingPolicy(
        dedup=DedupPolicy(fingerprint_fields=fields, window_seconds=3600),
        grouping=GroupingPolicy(strategy=Strategy.HOST_RULE, window_seconds=3600),
    )
    async with transaction(sessions) as session:
        await append_policy(session, tenant, policy, "test")


async def test_same_fingerprint_within_the_window_is_one_alert_counted(
    sessions: SessionFactory, tenant: str
) -> None:
    await use_fingerprint(sessions, tenant, "rule.id", "host")
    first = detection(tenant, "x1", minutes=0, occurrence="o1")
    same = detection(tenant, "x2", minutes=10, occurrence="o2", ingested_minutes=10)
    in_batch = detection(tenant, "x3", minutes=20, occurrence="o3", ingested_minutes=20)
    other_host = detection(tenant, "y1", host="h2", minutes=20, occurrence="o4")
    await process(sessions, [first])
    outcome = await process(sessions, [same, in_batch, other_host])
    assert (outcome.stored, outcome.repeats) == (1, 2)
    await process(sessions, [same])  # redelivered: counted once
    later = detection(tenant, "x9", minutes=200, occurrence="o9")  # past the window
    await process(sessions, [later])
    assert [(a["detection_id"], a["occurrence_count"]) for a in await alerts(sessions, tenant)] == [
        ("x1", 3),
        ("x9", 1),
        ("y1", 1),
    ]
    x1 = (await alerts(sessions, tenant))[0]
    assert x1["last_seen"] == T0 + timedelta(minutes=20)


async def test_the_first_of_a_fingerprint_in_a_batch_is_the_alert(
    sessions: SessionFactory, tenant: str
) -> None:
    await use_fingerprint(sessions, tenant, "rule.id")
    batch = [
        detection(tenant, "late", host="h1", minutes=5, occurrence="a"),
        detection(tenant, "early", host="h2", minutes=0, occurrence="b"),
    ]
    outcome = await process(sessions, batch)
    assert (outcome.stored, outcome.repeats) == (1, 1)
    assert [(a["detection_id"], a["occurrence_count"]) for a in await alerts(sessions, tenant)] == [
        ("early", 2)
    ]
