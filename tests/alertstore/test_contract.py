"""One contract for every alert store, run against each: Postgres here and everywhere,
OpenSearch wherever a Docker engine (or CASESTREAM_TEST_OPENSEARCH_URL) exists. Alerts
are always written the production way: alerting groups them into Postgres, and the
OpenSearch store gets them through the alert indexer."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import text

from libs.common.alertstore.model import AlertQuery
from libs.common.contracts.detections import EntityType
from libs.common.db.engine import transaction
from tests.alertstore.support import NO_CASES, STORE, Harness, seen
from tests.support.detections import T0


async def alert_ids(harness: Harness, tenant: str) -> dict[str, uuid.UUID]:
    async with harness.sessions() as session:
        rows = await session.execute(
            text("SELECT detection_id, id FROM alerts WHERE tenant_id = :t"), {"t": tenant}
        )
    return {row.detection_id: row.id for row in rows}


async def found(harness: Harness, tenant: str, query: AlertQuery, limit: int = 50) -> list[str]:
    """Detection ids of every alert matching, page after page, in the order returned."""
    ids: list[str] = []
    cursor = None
    while True:
        page = await harness.store.search(tenant, query, cursor=cursor, limit=limit)
        ids += [alert.detection_id for alert in page.items]
        if page.next_cursor is None:
            return ids
        cursor = page.next_cursor


async def test_get_returns_one_alert_and_its_payload_only_when_asked(
    harness: Harness, tenant: str
) -> None:
    await harness.group([seen(tenant, "d1", host="WS-17", users=("Alice",))])
    alert_id = (await alert_ids(harness, tenant))["d1"]

    alert = await harness.store.get(tenant, alert_id)
    assert alert is not None
    assert (alert.id, alert.detection_id, alert.host, alert.rule_id) == (
        alert_id,
        "d1",
        "WS-17",
        "r1",
    )
    assert alert.case_id is not None
    assert alert.effective_time == T0
    assert alert.occurrence_count == 1
    assert alert.detection is None

    with_payload = await harness.store.get(tenant, alert_id, payload=True)
    assert with_payload is not None
    assert with_payload.detection is not None
    assert with_payload.detection["detection_id"] == "d1"
    assert with_payload.detection["entities"][0]["value"] == "Alice"

    assert await harness.store.get(f"{tenant}-other", alert_id) is None
    assert await harness.store.get(tenant, uuid.uuid4()) is None


async def test_pages_go_newest_first_and_hold_every_alert_once(
    harness: Harness, tenant: str
) -> None:
    await harness.group([seen(tenant, f"d{n}", seconds=n * 60) for n in range(7)])
    first = await harness.store.search(tenant, AlertQuery(), limit=3)
    assert [a.detection_id for a in first.items] == ["d6", "d5", "d4"]
    assert first.next_cursor is not None
    assert await found(harness, tenant, AlertQuery(), limit=3) == [
        f"d{n}" for n in range(6, -1, -1)
    ]
    assert (await harness.store.search(tenant, AlertQuery(), limit=7)).next_cursor is None
    assert await harness.store.count(tenant, AlertQuery()) == 7


async def test_alerts_at_the_same_time_are_ordered_by_id_and_none_is_skipped(
    harness: Harness, tenant: str
) -> None:
    await harness.group([seen(tenant, f"d{n}", host=f"h{n}") for n in range(4)])
    ids = await alert_ids(harness, tenant)
    by_id = sorted(ids, key=lambda d: ids[d], reverse=True)
    assert await found(harness, tenant, AlertQuery(), limit=1) == by_id


async def test_microseconds_order_alerts_and_bound_ranges(harness: Harness, tenant: str) -> None:
    # 100 µs apart, the same millisecond: a millisecond store would tie or mix them up.
    await harness.group(
        [seen(tenant, "early", seconds=0.0001), seen(tenant, "late", seconds=0.0002)]
    )
    assert await found(harness, tenant, AlertQuery()) == ["late", "early"]
    late = T0 + timedelta(microseconds=200)
    assert await found(harness, tenant, AlertQuery(start=late)) == ["late"]
    assert await found(harness, tenant, AlertQuery(end=late), limit=1) == ["early"]


async def test_time_range_includes_its_start_and_excludes_its_end(
    harness: Harness, tenant: str
) -> None:
    await harness.group([seen(tenant, f"m{n}", seconds=n * 60) for n in (0, 1, 2)])
    query = AlertQuery(start=T0 + timedelta(minutes=1), end=T0 + timedelta(minutes=2))
    assert await found(harness, tenant, query) == ["m1"]
    assert await harness.store.count(tenant, query) == 1
    assert await found(harness, tenant, AlertQuery(start=T0 + timedelta(minutes=1))) == [
        "m2",
        "m1",
    ]


async def test_filters_by_host_entity_and_rule_in_any_case(harness: Harness, tenant: str) -> None:
    await harness.group(
        [
            seen(tenant, "a", seconds=3, host="WS-17", rule="r1", users=("Alice",)),
            seen(tenant, "b", seconds=2, host="ws-18", rule="r2", users=("bob",)),
            seen(tenant, "c", seconds=1, host="ws-19", rule="r2", users=("alice", "carol")),
        ]
    )
    assert await found(harness, tenant, AlertQuery(host="ws-17")) == ["a"]
    assert await found(harness, tenant, AlertQuery(entity="ALICE")) == ["a", "c"]
    assert await found(
        harness, tenant, AlertQuery(entity="alice", entity_type=EntityType.USER)
    ) == ["a", "c"]
    # The host is an entity too, unless another type is asked for.
    assert await found(harness, tenant, AlertQuery(entity="WS-18")) == ["b"]
    assert (
        await found(harness, tenant, AlertQuery(entity="ws-18", entity_type=EntityType.USER)) == []
    )
    assert await found(harness, tenant, AlertQuery(rule_id="r2")) == ["b", "c"]
    assert await found(harness, tenant, AlertQuery(rule_id="r2", entity="alice")) == ["c"]
    assert await found(harness, tenant, AlertQuery(host="ws-19", entity="bob")) == []
    assert await harness.store.count(tenant, AlertQuery(entity="alice")) == 2


async def test_another_tenant_finds_nothing(harness: Harness, tenant: str) -> None:
    await harness.group([seen(tenant, "private", users=("alice",))])
    other = f"{tenant}-other"
    assert await found(harness, other, AlertQuery()) == []
    assert await found(harness, other, AlertQuery(entity="alice")) == []
    assert await harness.store.count(other, AlertQuery()) == 0


async def test_payloads_come_with_a_search_only_when_asked(harness: Harness, tenant: str) -> None:
    await harness.group([seen(tenant, "d1", users=("alice",))])
    plain = await harness.store.search(tenant, AlertQuery())
    assert [a.detection for a in plain.items] == [None]
    full = await harness.store.search(tenant, AlertQuery(), payload=True)
    assert full.items[0].detection is not None
    assert full.items[0].detection["entities"] == [{"type": "user", "value": "alice", "role": None}]


async def test_alerts_of_a_deleted_case_are_not_found_until_it_is_restored(
    harness: Harness, tenant: str
) -> None:
    await harness.group([seen(tenant, "d1"), seen(tenant, "other", host="h2")])
    alert_id = (await alert_ids(harness, tenant))["d1"]
    alert = await harness.store.get(tenant, alert_id)
    assert alert is not None
    assert alert.case_id is not None
    async with transaction(harness.sessions) as session:
        await STORE.delete_case(session, tenant, alert.case_id, "tester")
    await harness.sync(tenant)
    assert await harness.store.get(tenant, alert_id) is None
    assert await found(harness, tenant, AlertQuery()) == ["other"]
    assert await harness.store.count(tenant, AlertQuery()) == 1

    async with transaction(harness.sessions) as session:
        await STORE.restore_case(session, tenant, alert.case_id, "tester")
    await harness.sync(tenant)
    assert await harness.store.get(tenant, alert_id) is not None
    assert sorted(await found(harness, tenant, AlertQuery())) == ["d1", "other"]


async def test_alerts_without_a_case_are_found(harness: Harness, tenant: str) -> None:
    await harness.group([seen(tenant, "held", users=("dave",))], NO_CASES)
    [alert] = (await harness.store.search(tenant, AlertQuery(entity="dave"))).items
    assert (alert.detection_id, alert.case_id) == ("held", None)


async def test_a_repeat_shows_in_the_stored_alert(harness: Harness, tenant: str) -> None:
    await harness.group([seen(tenant, "d1", occurrence="o1")])
    repeat = seen(tenant, "d1", occurrence="o2").model_copy(
        update={"ingested_at": T0 + timedelta(hours=1)}
    )
    outcome = await harness.group([repeat])
    assert outcome.repeats == 1
    [alert] = (await harness.store.search(tenant, AlertQuery())).items
    assert alert.occurrence_count == 2
    assert alert.last_seen == T0 + timedelta(hours=1)


async def test_an_alert_split_off_shows_its_new_case(harness: Harness, tenant: str) -> None:
    await harness.group([seen(tenant, "stays"), seen(tenant, "moves", seconds=60)])
    ids = await alert_ids(harness, tenant)
    before = await harness.store.get(tenant, ids["moves"])
    assert before is not None
    assert before.case_id is not None
    async with transaction(harness.sessions) as session:
        split = await STORE.split(session, tenant, before.case_id, [ids["moves"]], "tester")
    await harness.sync(tenant)
    after = await harness.store.get(tenant, ids["moves"])
    assert after is not None
    assert after.case_id == split.case.id != before.case_id
