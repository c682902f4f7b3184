"""Correlation on real Postgres, inside the grouping transaction: hits become alerts in
cases, redelivery and racing instances raise nothing twice, state outlives the engine,
and a transaction that fails leaves no trace."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from libs.common.casestore.store import CaseStore
from libs.common.contracts.detections import DetectionV1
from libs.common.db.engine import SessionFactory, transaction
from services.alerting.correlation.service import CorrelationEngine
from services.alerting.service import BatchOutcome, GroupingService
from tests.alerting.correlation.support import (
    by_user,
    correlation_alerts,
    count_rows,
    matched_ids,
    rule_set,
)
from tests.support.detections import detection, host_rule_policy


def grouping_for(tenant: str) -> GroupingService:
    """A fresh service and engine, as after a restart: nothing carried in memory."""
    engine = CorrelationEngine({tenant: rule_set()})
    return GroupingService(CaseStore("casestream/alerting-test"), host_rule_policy(), engine)


async def process(sessions: SessionFactory, tenant: str, batch: list[DetectionV1]) -> BatchOutcome:
    async with transaction(sessions) as session:
        return await grouping_for(tenant).process(session, batch)


def failed_logons(
    tenant: str, user: str, minutes: list[float], prefix: str = "f"
) -> list[DetectionV1]:
    return [
        by_user(tenant, f"{prefix}{n}", user, rule="failed-logon", host=f"ws{n}", minutes=m)
        for n, m in enumerate(minutes)
    ]


async def test_a_hit_becomes_an_alert_in_its_own_case(
    sessions: SessionFactory, tenant: str
) -> None:
    await process(sessions, tenant, failed_logons(tenant, "alice", [0, 2, 4]))
    (alert,) = await correlation_alerts(sessions, tenant)
    assert alert["title"] == "Password spray against alice"
    assert alert["case_title"] == "Password spray against alice"
    assert alert["severity"] == "critical"
    assert alert["rule_id"] == "spray"
    assert matched_ids(alert) == ["f0", "f1", "f2"]
    assert alert["group_key"] == "correlation=spray|entity.user=alice"
    assert alert["grouping"]["decision"] == "opened_case"
    correlation = alert["detection"]["raw"]["correlation"]
    assert correlation["window"]["start"] == "2026-03-01T12:00:00+00:00"
    assert correlation["type"] == "event_count"
    assert alert["detection"]["mitre"]["techniques"] == ["T1110.003"]
    assert {"type": "user", "value": "alice", "role": "correlated"} in alert["detection"][
        "entities"
    ]


async def test_redelivered_batch_raises_no_second_alert(
    sessions: SessionFactory, tenant: str
) -> None:
    batch = failed_logons(tenant, "alice", [0, 2, 4])
    await process(sessions, tenant, batch)
    before = await count_rows(sessions, "correlation_contributions", tenant)
    outcome = await process(sessions, tenant, batch)
    assert outcome.stored == 0
    assert len(await correlation_alerts(sessions, tenant)) == 1
    assert await count_rows(sessions, "correlation_contributions", tenant) == before


async def test_state_survives_a_restart(sessions: SessionFactory, tenant: str) -> None:
    await process(sessions, tenant, failed_logons(tenant, "bob", [0, 1]))
    assert await correlation_alerts(sessions, tenant) == []
    # A new service and engine (another process, after a restart) picks up the state.
    await process(sessions, tenant, failed_logons(tenant, "bob", [3], prefix="later"))
    (alert,) = await correlation_alerts(sessions, tenant)
    assert matched_ids(alert) == ["f0", "f1", "later0"]


async def test_two_instances_racing_raise_one_alert(sessions: SessionFactory, tenant: str) -> None:
    # Two instances hold overlapping batches (a rebalance) of the same entity at once.
    first = failed_logons(tenant, "carol", [0, 1, 2, 3])
    second = failed_logons(tenant, "carol", [2, 3, 4, 5])
    second = [d.model_copy(update={"detection_id": f"s{n}"}) for n, d in enumerate(second)]
    for _ in range(3):
        await asyncio.gather(
            process(sessions, tenant, first + second[:2]), process(sessions, tenant, second)
        )
    alerts = await correlation_alerts(sessions, tenant)
    assert len(alerts) == 1
    assert len(matched_ids(alerts[0])) >= 3


async def test_a_failed_transaction_leaves_no_trace(sessions: SessionFactory, tenant: str) -> None:
    with pytest.raises(RuntimeError, match="crash"):
        async with transaction(sessions) as session:
            await grouping_for(tenant).process(session, failed_logons(tenant, "dave", [0, 1, 2]))
            raise RuntimeError("crash before commit")
    for table in ("correlation_states", "correlation_contributions", "alerts"):
        assert await count_rows(sessions, table, tenant) == 0
    await process(sessions, tenant, failed_logons(tenant, "dave", [0, 1, 2]))
    assert len(await correlation_alerts(sessions, tenant)) == 1


async def test_missing_event_is_decided_when_event_time_moves_on(
    sessions: SessionFactory, tenant: str
) -> None:
    await process(sessions, tenant, [detection(tenant, "start-1", rule="backup-start", host="db1")])
    await process(sessions, tenant, [detection(tenant, "x", rule="other", host="ws9", minutes=20)])
    assert await correlation_alerts(sessions, tenant) == []
    await process(sessions, tenant, [detection(tenant, "y", rule="other", host="ws9", minutes=31)])
    (alert,) = await correlation_alerts(sessions, tenant)
    assert matched_ids(alert) == ["start-1"]
    assert alert["detection"]["host"] == "db1"
    await process(sessions, tenant, [detection(tenant, "z", rule="other", host="ws9", minutes=90)])
    assert len(await correlation_alerts(sessions, tenant)) == 1


async def test_state_of_idle_entities_is_dropped(sessions: SessionFactory, tenant: str) -> None:
    await process(sessions, tenant, failed_logons(tenant, "erin", [0]))
    assert await count_rows(sessions, "correlation_states", tenant) == 1
    async with transaction(sessions) as session:
        await session.execute(
            text(
                "UPDATE correlation_states SET updated_at = now() - interval '90 days'"
                " WHERE tenant_id = :t"
            ),
            {"t": tenant},
        )
    await process(sessions, tenant, failed_logons(tenant, "frank", [500], prefix="g"))
    async with sessions() as session:
        keys = (
            await session.execute(
                text("SELECT entity_key FROM correlation_states WHERE tenant_id = :t"),
                {"t": tenant},
            )
        ).scalars()
        assert list(keys) == ["entity.user=frank"]
    assert await count_rows(sessions, "correlation_contributions", tenant) == 1


async def test_tenants_without_rules_are_untouched(sessions: SessionFactory, tenant: str) -> None:
    other = f"{tenant}-norules"
    await process(sessions, tenant, failed_logons(other, "alice", [0, 1, 2]))
    assert await count_rows(sessions, "correlation_states", other) == 0
    assert await count_rows(sessions, "alerts", other) == 3
