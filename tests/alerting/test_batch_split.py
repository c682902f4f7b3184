"""A large batch in concurrent transactions by Kafka key: each key's records in one part
and in order, every record once; against real Postgres, the cases are those of one
transaction, and a part that fails makes the whole batch read again, with the part that
committed found stored (nothing twice)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.casestore.store import CaseStore
from libs.common.contracts.detections import DetectionV1
from libs.common.db.engine import SessionFactory
from libs.common.outbox import OutboxRelay
from libs.common.settings import KafkaSettings, OutboxSettings
from services.alerting.batch_split import split_by_key
from services.alerting.handlers import DetectionBatches
from services.alerting.service import BatchOutcome, GroupingService
from tests.support.detections import detection, host_rule_policy


def test_each_key_stays_in_one_part_in_order_and_every_item_once() -> None:
    keys = ["a", "b", "a", "c", "b", "a", "d", "a", "b", "c"]
    items = list(range(len(keys)))
    parts = split_by_key(items, keys, 2, 1)
    assert len(parts) == 2
    assert sorted(i for part in parts for i in part) == items
    for part in parts:
        assert part == sorted(part)
    for key in set(keys):
        assert sum(any(keys[i] == key for i in part) for part in parts) == 1
    assert {frozenset(keys[i] for i in part) for part in parts} == {
        frozenset({"a", "d"}),
        frozenset({"b", "c"}),
    }


def test_the_two_busiest_keys_land_in_different_parts() -> None:
    keys = ["hot1"] * 40 + ["hot2"] * 35 + [f"quiet{n}" for n in range(25)]
    parts = split_by_key(keys, keys, 2, 10)
    assert [{"hot1", "hot2"} & set(part) for part in parts] in (
        [{"hot1"}, {"hot2"}],
        [{"hot2"}, {"hot1"}],
    )
    assert sorted(map(len, parts)) == [50, 50]


def test_small_batches_and_single_keys_stay_whole() -> None:
    keys = ["a", "b"] * 150
    assert len(split_by_key(keys, keys, 2, 200)) == 1  # 300 < 2 x 200
    assert len(split_by_key(keys, keys, 2, 150)) == 2
    one = ["a"] * 500
    assert split_by_key(one, one, 4, 10) == [one]
    # A key holding nearly everything would leave the other part below its minimum.
    lopsided = ["a"] * 390 + ["b"] * 10
    assert len(split_by_key(lopsided, lopsided, 2, 100)) == 1
    assert split_by_key([], [], 2, 1) == []


@dataclass(frozen=True)
class Record:
    key: bytes
    value: bytes
    partition: int = 0
    offset: int = 0
    headers: tuple[tuple[str, bytes], ...] = ()


class FailsOnceOn(GroupingService):
    """Raises the first time a part holding `host` is processed, after the other part
    has had every chance to commit."""

    def __init__(self, host: str) -> None:
        super().__init__(CaseStore("casestream/alerting-test"), host_rule_policy())
        self._host = host
        self.failed = False

    async def process(self, session: AsyncSession, detections: list[DetectionV1]) -> BatchOutcome:
        if not self.failed and any(d.host == self._host for d in detections):
            self.failed = True
            raise RuntimeError("the database went away")
        return await super().process(session, detections)


def records(batch: list[DetectionV1]) -> list[Record]:
    return [
        Record(d.partition_key(), d.model_dump_json().encode(), offset=n)
        for n, d in enumerate(batch)
    ]


def handler(sessions: SessionFactory, grouping: GroupingService, parts: int) -> DetectionBatches:
    relay = OutboxRelay(sessions, KafkaSettings(), OutboxSettings())
    broker: Any = None  # nothing in these batches is dead-lettered
    return DetectionBatches(broker, sessions, grouping, relay, parts=parts, min_part=2)


async def stored(sessions: SessionFactory, tenant: str) -> list[tuple[str, str, int]]:
    """(detection id, its case's group key, occurrence count) of every alert."""
    async with sessions() as session:
        rows = await session.execute(
            text(
                "SELECT a.detection_id, c.group_key, a.occurrence_count FROM alerts a"
                " JOIN cases c ON c.id = a.case_id WHERE a.tenant_id = :t ORDER BY 1"
            ),
            {"t": tenant},
        )
        return [tuple(row) for row in rows]


def two_hosts(tenant: str) -> list[DetectionV1]:
    return [
        detection(tenant, f"{host}-{n}", host=host, minutes=n, occurrence=f"o-{host}-{n}")
        for n in range(6)
        for host in ("h1", "h2")
    ]


async def test_a_split_batch_makes_the_cases_of_one_transaction(
    sessions: SessionFactory, tenant: str
) -> None:
    whole, split = f"{tenant}-whole", f"{tenant}-split"
    grouping = GroupingService(CaseStore("casestream/alerting-test"), host_rule_policy())
    assert await handler(sessions, grouping, 1)(records(two_hosts(whole)))
    assert await handler(sessions, grouping, 2)(records(two_hosts(split)))
    assert await stored(sessions, split) == [
        (detection_id, key.replace(whole, split), count)
        for detection_id, key, count in await stored(sessions, whole)
    ]
    assert len(await stored(sessions, split)) == 12


async def test_a_failed_part_reads_the_batch_again_and_nothing_is_stored_twice(
    sessions: SessionFactory, tenant: str
) -> None:
    grouping = FailsOnceOn("h2")
    handle = handler(sessions, grouping, 2)
    batch = records(two_hosts(tenant))
    assert not await handle(batch)
    first = await stored(sessions, tenant)
    assert [d for d, _, _ in first] == [f"h1-{n}" for n in range(6)]  # h1's part committed
    assert await handle(batch)
    again = await stored(sessions, tenant)
    assert [d for d, _, _ in again] == sorted(f"{h}-{n}" for h in ("h1", "h2") for n in range(6))
    # Read again, h1's detections are redeliveries (same occurrence ids): not repeats.
    assert {count for _, _, count in again} == {1}
