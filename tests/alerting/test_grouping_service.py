"""Grouping against real Postgres: dedup, redelivery, and two writers racing on one key."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import text

from libs.common.casestore.store import CaseStore
from libs.common.contracts.detections import DetectionV1, EntityType, EntityV1, Severity
from libs.common.db.engine import SessionFactory, transaction
from services.alerting.service import BatchOutcome, GroupingService
from tests.support.detections import detection, host_rule_policy

SERVICE = GroupingService(CaseStore("casestream/alerting-test"), host_rule_policy())


async def process(sessions: SessionFactory, batch: list[DetectionV1]) -> BatchOutcome:
    async with transaction(sessions) as session:
        return await SERVICE.process(session, batch)


async def state(sessions: SessionFactory, tenant: str) -> dict[str, Any]:
    async with sessions() as session:
        cases = (
            await session.execute(
                text(
                    "SELECT c.id, c.alert_count, c.severity, array_agg(a.detection_id ORDER BY a.detection_id)"
                    " AS ids FROM cases c JOIN alerts a ON a.case_id = c.id WHERE c.tenant_id = :t"
                    " GROUP BY c.id ORDER BY min(a.detection_id)"
                ),
                {"t": tenant},
            )
        ).all()
        events = await session.scalar(
            text("SELECT count(*) FROM case_events WHERE tenant_id = :t"), {"t": tenant}
        )
    return {"cases": [(c.alert_count, c.severity, c.ids) for c in cases], "events": events}


async def test_same_host_and_rule_share_a_case(sessions: SessionFactory, tenant: str) -> None:
    batch = [
        detection(tenant, "a1", minutes=0),
        detection(tenant, "a2", minutes=30),
        detection(tenant, "b1", rule="r2"),
        detection(tenant, "c1", host="h2"),
        detection(tenant, "a3", minutes=200),  # beyond the window: a new case
    ]
    outcome = await process(sessions, batch)
    assert (outcome.stored, outcome.cases_opened) == (5, 4)
    assert [ids for _, _, ids in (await state(sessions, tenant))["cases"]] == [
        ["a1", "a2"],
        ["a3"],
        ["b1"],
        ["c1"],
    ]


async def test_later_batches_grow_the_open_case(sessions: SessionFactory, tenant: str) -> None:
    await process(sessions, [detection(tenant, "a1")])
    outcome = await process(sessions, [detection(tenant, "a2", minutes=10, severity=Severity.HIGH)])
    assert (outcome.cases_opened, outcome.cases_grown) == (0, 1)
    current = await state(sessions, tenant)
    assert current["cases"] == [(2, "high", ["a1", "a2"])]
    assert current["events"] == 3  # opened, alert_attached, severity_upgraded


async def test_redelivered_batch_changes_nothing(sessions: SessionFactory, tenant: str) -> None:
    batch = [detection(tenant, f"d{i}", minutes=i) for i in range(20)]
    await process(sessions, batch)
    before = await state(sessions, tenant)
    outcome = await process(sessions, batch)
    assert (outcome.stored, outcome.duplicates) == (0, 20)
    assert await state(sessions, tenant) == before


async def test_duplicates_inside_one_batch_count_once(
    sessions: SessionFactory, tenant: str
) -> None:
    outcome = await process(sessions, [detection(tenant, "x"), detection(tenant, "x")])
    assert outcome.stored == 1
    assert (await state(sessions, tenant))["cases"] == [(1, "medium", ["x"])]


async def test_two_writers_racing_on_one_key_open_one_case(
    sessions: SessionFactory, tenant: str
) -> None:
    # Two instances hold overlapping batches of the same key at the same moment.
    first = [detection(tenant, f"d{i}", minutes=i) for i in range(0, 30)]
    second = [detection(tenant, f"d{i}", minutes=i) for i in range(15, 45)]
    for _ in range(3):
        await asyncio.gather(process(sessions, first), process(sessions, second))
    current = await state(sessions, tenant)
    assert len(current["cases"]) == 1
    assert current["cases"][0][0] == 45
    assert current["cases"][0][2] == sorted(f"d{i}" for i in range(45))


async def test_the_stored_detection_is_the_one_received(
    sessions: SessionFactory, tenant: str
) -> None:
    original = detection(tenant, "kept", severity=Severity.HIGH)
    await process(sessions, [original])
    async with sessions() as session:
        stored = await session.scalar(
            text("SELECT detection FROM alerts WHERE tenant_id = :t"), {"t": tenant}
        )
    assert DetectionV1.model_validate_json(stored) == original


async def test_alerts_carry_the_entity_keys_postgres_computes_from_their_detection(
    sessions: SessionFactory, tenant: str
) -> None:
    # Alerting writes each alert's search keys itself; the SQL function that made the
    # keys of alerts stored before migration 0026 must agree, value for value.
    odd = detection(tenant, "k1", host='WS-"Quoted"\\Share').model_copy(
        update={
            "entities": [
                EntityV1(type=EntityType.USER, value="Alice"),
                EntityV1(type=EntityType.USER, value="ALICE"),  # folds into the one above
                EntityV1(type=EntityType.FILE, value='C:\\Temp\\"x",{y}' * 60),  # cut at 512
                EntityV1(type=EntityType.IP, value="10.0.0.1"),
            ]
        }
    )
    await process(sessions, [odd, detection(tenant, "k2", host="")])
    async with sessions() as session:
        rows = (
            await session.execute(
                text(
                    "SELECT detection_id, entity_keys,"
                    " casestream_alert_entity_keys(tenant_id, detection::jsonb, host) AS computed"
                    " FROM alerts WHERE tenant_id = :t ORDER BY detection_id"
                ),
                {"t": tenant},
            )
        ).all()
    assert [row.detection_id for row in rows] == ["k1", "k2"]
    for row in rows:
        assert sorted(row.entity_keys) == sorted(row.computed)
    first = sorted(rows[0].entity_keys)
    assert f"{tenant}/user=alice" in first
    assert f'{tenant}/host=ws-"quoted"\\share' in first
    assert len(first) == 4  # host, user, file, ip
    assert rows[1].entity_keys == []
