"""The chain strategy against real Postgres: detections that matched one source event
share a case across batches and keys; without a shared event the fallback groups them;
the window bounds the chain; redelivery changes nothing; two instances racing on one
event open one case."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import text

from libs.common.casestore.changes import CaseChange
from libs.common.casestore.store import CaseStore
from libs.common.contracts.cases import CaseStatus
from libs.common.contracts.detections import DetectionV1
from libs.common.db.engine import SessionFactory, transaction
from libs.common.policies.alerting import AlertingPolicy, ChainFallback, GroupingPolicy, Strategy
from services.alerting.service import GroupingService
from tests.support.detections import detection
from tests.support.outbox import outbox_messages


def chain_service(fallback: ChainFallback = ChainFallback.HOST_RULE) -> GroupingService:
    policy = AlertingPolicy(
        grouping=GroupingPolicy(
            strategy=Strategy.CHAIN, chain_fallback=fallback, window_seconds=3600
        )
    )
    return GroupingService(CaseStore("casestream/alerting-test"), policy)


SERVICE = chain_service()


def matched(
    tenant: str, name: str, *events: str, host: str = "h1", rule: str = "r1", minutes: float = 0
) -> DetectionV1:
    base = detection(tenant, name, host=host, rule=rule, minutes=minutes)
    return base.model_copy(update={"matched_event_ids": list(events)})


async def process(
    sessions: SessionFactory, batch: list[DetectionV1], service: GroupingService = SERVICE
) -> None:
    async with transaction(sessions) as session:
        await service.process(session, batch)


async def cases(sessions: SessionFactory, tenant: str) -> list[tuple[int, list[str]]]:
    """(case number, its detection ids) for every case of the tenant."""
    async with sessions() as session:
        rows = await session.execute(
            text(
                "SELECT c.number, c.alert_count,"
                " array_agg(a.detection_id ORDER BY a.detection_id) AS ids"
                " FROM cases c JOIN alerts a ON a.case_id = c.id WHERE c.tenant_id = :t"
                " GROUP BY c.id ORDER BY c.number"
            ),
            {"t": tenant},
        )
        result = []
        for row in rows:
            assert row.alert_count == len(row.ids)
            result.append((row.number, list(row.ids)))
    return result


async def grouping(sessions: SessionFactory, tenant: str, detection_id: str) -> dict[str, Any]:
    async with sessions() as session:
        found: dict[str, Any] = await session.scalar(
            text("SELECT grouping FROM alerts WHERE tenant_id = :t AND detection_id = :d"),
            {"t": tenant, "d": detection_id},
        )
    return found


async def test_detections_of_one_event_share_a_case_across_batches_and_keys(
    sessions: SessionFactory, tenant: str
) -> None:
    await process(sessions, [matched(tenant, "a", "e1", host="h1", rule="r1")])
    # Another host and rule: only the event ties it to the first case.
    await process(sessions, [matched(tenant, "b", "e1", "e2", host="h2", rule="r2", minutes=5)])
    # Shares e2 with b only: the chain goes on through b's indexed events.
    await process(sessions, [matched(tenant, "c", "e2", host="h3", rule="r3", minutes=10)])
    await process(sessions, [matched(tenant, "d", "e9", host="h4", rule="r4", minutes=10)])
    assert [ids for _, ids in await cases(sessions, tenant)] == [["a", "b", "c"], ["d"]]

    first, second, third = [await grouping(sessions, tenant, d) for d in ("a", "b", "c")]
    assert (first["strategy"], first["strategy_fallback"], first["decision"]) == (
        "host+rule",
        True,
        "opened_case",
    )
    assert first["chain"] == {
        "matched_event_ids": ["e1"],
        "shared_event_ids": [],
        "fallback": "host+rule",
    }
    assert (second["strategy"], second["decision"], second["reason"]) == (
        "chain",
        "joined_case",
        "shared_event",
    )
    assert second["chain"]["shared_event_ids"] == ["e1"]
    async with sessions() as session:
        alert_a = await session.scalar(
            text("SELECT id::text FROM alerts WHERE tenant_id = :t AND detection_id = 'a'"),
            {"t": tenant},
        )
    assert second["chain"]["shared_with_alert_ids"] == [alert_a]
    assert third["chain"]["shared_event_ids"] == ["e2"]
    # Subscribers of alerts.v2 see the decision and the shared event too.
    (published,) = [
        m.payload["grouping"]
        for m in await outbox_messages(sessions, tenant)
        if m.topic == "alerts.v2" and m.payload["detection_id"] == "b"
    ]
    assert (published["strategy"], published["reason"], published["shared_event_ids"]) == (
        "chain",
        "shared_event",
        ["e1"],
    )


async def test_one_batch_chains_its_own_detections(sessions: SessionFactory, tenant: str) -> None:
    # Two rules fired on one event (and a third on another) arrive together.
    batch = [
        matched(tenant, "x", "e1", rule="r1"),
        matched(tenant, "y", "e1", rule="r2"),
        matched(tenant, "z", "e3", rule="r3"),
    ]
    await process(sessions, batch)
    assert [ids for _, ids in await cases(sessions, tenant)] == [["x", "y"], ["z"]]
    follower = await grouping(sessions, tenant, "y")
    assert (follower["strategy"], follower["reason"]) == ("chain", "shared_event")
    assert follower["chain"]["shared_with_detection_ids"] == ["x"]


async def test_without_a_shared_event_the_fallback_decides(
    sessions: SessionFactory, tenant: str
) -> None:
    by_entity = chain_service(ChainFallback.ENTITY)
    await process(sessions, [matched(tenant, "a", "e1", rule="r1")], by_entity)
    await process(sessions, [matched(tenant, "b", "e2", rule="r2", minutes=5)], by_entity)
    await process(sessions, [detection(tenant, "c", rule="r3", minutes=6)], by_entity)
    assert [ids for _, ids in await cases(sessions, tenant)] == [["a", "b", "c"]]
    fallen = await grouping(sessions, tenant, "b")
    assert (fallen["strategy"], fallen["strategy_fallback"], fallen["key"]) == (
        "entity",
        True,
        {"host": "h1"},
    )
    assert fallen["chain"]["shared_event_ids"] == []

    own = chain_service(ChainFallback.NEW_CASE)
    other = f"{tenant}-own"
    await process(sessions, [matched(other, "a", "e1"), matched(other, "b", "e2")], own)
    await process(sessions, [matched(other, "c", "e1", minutes=5)], own)
    assert [ids for _, ids in await cases(sessions, other)] == [["a", "c"], ["b"]]
    async with sessions() as session:
        slots = await session.scalar(
            text("SELECT count(*) FROM grouping_slots WHERE tenant_id = :t"), {"t": other}
        )
    assert slots == 0  # a case of one detection needs no slot


async def test_the_chain_ends_with_the_window_and_with_the_case(
    sessions: SessionFactory, tenant: str
) -> None:
    await process(sessions, [matched(tenant, "a", "e1", rule="r1")])
    await process(sessions, [matched(tenant, "late", "e1", rule="r2", minutes=61)])
    assert [ids for _, ids in await cases(sessions, tenant)] == [["a"], ["late"]]
    # Between the two cases, within an hour of both: the oldest is joined, the other named.
    await process(sessions, [matched(tenant, "mid", "e1", rule="r3", minutes=30)])
    (first, a_ids), (second, _) = await cases(sessions, tenant)
    assert a_ids == ["a", "mid"]
    mid = await grouping(sessions, tenant, "mid")
    async with sessions() as session:
        late_case = await session.scalar(
            text("SELECT id::text FROM cases WHERE tenant_id = :t AND number = :n"),
            {"t": tenant, "n": second},
        )
        first_case = await session.scalar(
            text("SELECT id FROM cases WHERE tenant_id = :t AND number = :n"),
            {"t": tenant, "n": first},
        )
    assert mid["chain"]["other_case_ids"] == [late_case]
    # A closed case is no longer joined: the other open case holding the event is.
    async with transaction(sessions) as session:
        close = CaseChange(fields={"classification": "true_positive"}, status=CaseStatus.CLOSED)
        await CaseStore("test").apply_change(session, tenant, first_case, close, "ana")
    await process(sessions, [matched(tenant, "after", "e1", rule="r1", minutes=20)])
    assert [ids for _, ids in await cases(sessions, tenant)] == [["a", "mid"], ["after", "late"]]


async def test_redelivery_gives_the_same_result(sessions: SessionFactory, tenant: str) -> None:
    batches = [
        [matched(tenant, "a", "e1"), matched(tenant, "b", "e1", rule="r2")],
        [matched(tenant, "c", "e1", "e2", rule="r3", minutes=3)],
        [matched(tenant, "d", "e2", rule="r4", minutes=4), matched(tenant, "e", "e7", minutes=5)],
    ]
    for batch in batches:
        await process(sessions, batch)
    before = await cases(sessions, tenant)
    assert [ids for _, ids in before] == [["a", "b", "c", "d", "e"]]  # e: host+rule of a
    for batch in reversed(batches):
        await process(sessions, batch)
    assert await cases(sessions, tenant) == before
    async with sessions() as session:
        indexed = await session.scalar(
            text("SELECT count(*) FROM alert_matched_events WHERE tenant_id = :t"), {"t": tenant}
        )
    assert indexed == 6  # a, b, c (2), d, e


async def test_two_instances_racing_on_one_event_open_one_case(
    sessions: SessionFactory, tenant: str
) -> None:
    # Different hosts and rules: no group key in common, only the event.
    for round_ in range(5):
        t = f"{tenant}-{round_}"
        await asyncio.gather(
            process(sessions, [matched(t, "p1", "ev", host="h1", rule="r1")]),
            process(sessions, [matched(t, "p2", "ev", host="h2", rule="r2")]),
        )
        assert [ids for _, ids in await cases(sessions, t)] == [["p1", "p2"]]
