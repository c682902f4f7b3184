"""The outbox relay publishes committed rows to Kafka as record batches and deletes them
(or marks them sent): every topic and key, each message (a batch row's each) on the
partition a keyed send would pick, a key's rows in the order they were written, the
headers consumers always got, rounds bounded in messages.
With Kafka unreachable, writes still succeed and events wait until it is back. Sent rows
kept for inspection are deleted once older than the outbox keeps them; unsent rows never
are."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import msgspec
from aiokafka.partitioner import DefaultPartitioner
from sqlalchemy import text

from libs.common.casestore.events import alert_outbox_rows
from libs.common.casestore.repository import insert_events
from libs.common.casestore.store import CaseStore, NewAlert, NewCase
from libs.common.contracts.detections import Severity
from libs.common.db.engine import SessionFactory, transaction
from libs.common.kafka import ensure_topics
from libs.common.outbox import (
    CLAIM,
    CLAIM_AND_DELETE,
    INDEX_SCANS_ONLY,
    PRUNE_SENT,
    OutboxRelay,
    outgoing_by_topic,
    wire_headers,
)
from libs.common.outbox_batches import BatchEntry, batch_rows, row_messages
from libs.common.settings import KafkaSettings, OutboxSettings
from libs.embedded.ports import free_port
from libs.embedded.tansu import TansuBroker
from services.alerting.service import GroupingService
from tests.support.detections import detection, host_rule_policy
from tests.support.kafka import Record, header, read_settled, read_until
from tests.support.outbox import drain_outbox, outbox_messages, outbox_rows

STORE = CaseStore("test")
TOPICS = ["alerts.v1", "alerts.v2", "cases.events.v1"]
ALERT_COLUMNS = {
    "detection_id": "d-1",
    "title": "t",
    "rule_id": "r-1",
    "rule_name": "r",
    "group_key": "host:h",
    "source": "sigma",
}
# What FastStream's publish(headers=...) put first, before the row's own headers.
LEADING_HEADERS = ["content-type", "correlation_id"]


async def open_cases(sessions: SessionFactory, tenant: str, n: int) -> list[uuid.UUID]:
    ids = []
    for _ in range(n):
        async with transaction(sessions) as session:
            case, _ = await STORE.open_case(
                session, NewCase(tenant_id=tenant, title="c", severity=Severity.LOW), [], "t"
            )
        ids.append(case.id)
    return ids


async def unsent(sessions: SessionFactory, tenant: str) -> int:
    return sum(row.sent_at is None for row in await outbox_rows(sessions, tenant))


def of_tenant(tenant: str) -> Any:
    return lambda record: header(record, "ce_tenantid") == tenant.encode()


async def test_rows_of_every_topic_and_key_are_published_as_written_and_deleted(
    sessions: SessionFactory, kafka_settings: KafkaSettings, tenant: str
) -> None:
    grouping = GroupingService(STORE, host_rule_policy())
    batch = [detection(tenant, f"d{n}", host=f"h{n % 4}") for n in range(12)]
    async with transaction(sessions) as session:
        await grouping.process(session, batch)
    rows = await outbox_messages(sessions, tenant)
    assert {row.topic for row in rows} == set(TOPICS)
    assert len({row.key for row in rows}) == 16  # 12 alerts, 4 cases
    assert len(rows) == 12 * 2 + 4
    # The alerts' 24 messages travel in two batch rows, one per topic.
    assert len(await outbox_rows(sessions, tenant)) == 2 + 4

    await drain_outbox(sessions, kafka_settings)
    assert await outbox_rows(sessions, tenant) == []  # deleted as they were published

    published = await read_settled(
        kafka_settings.bootstrap_servers, TOPICS, of_tenant(tenant), count=len(rows)
    )
    assert len(published) == len(rows)
    by_event = {header(record, "ce_id"): record for record in published}
    partitioner = DefaultPartitioner()
    for row in rows:
        record = by_event[row.headers["ce_id"].encode()]
        assert (record.topic, record.key) == (row.topic, row.key.encode())
        assert json.loads(record.value) == row.payload
        names = [name for name, _ in record.headers]
        assert names == LEADING_HEADERS + [n for n in row.headers if n != "content-type"]
        assert dict(record.headers)["content-type"] == b"application/json"
        assert {n: v.decode() for n, v in record.headers if n in row.headers} == row.headers
        # Where aiokafka's own keyed send would have put it (3 partitions in tests).
        assert record.partition == partitioner(record.key, [0, 1, 2], [0, 1, 2])


async def test_each_keys_rows_keep_their_order_across_record_batches(
    sessions: SessionFactory, kafka_settings: KafkaSettings, tenant: str
) -> None:
    case_ids = await open_cases(sessions, tenant, 3)
    notes: dict[str, list[str]] = defaultdict(list)  # per case, in the order written
    for _ in range(70):
        for case_id in case_ids:
            async with transaction(sessions) as session:
                note, _ = await STORE.add_note(session, tenant, case_id, "analyst", "n")
            notes[str(case_id)].append(str(note.id))
    # aiokafka's smallest record batch: each case's ~20 KB of events needs several.
    small_batches = kafka_settings.model_copy(update={"producer_max_batch_bytes": 16_384})
    await drain_outbox(sessions, small_batches)
    assert await unsent(sessions, tenant) == 0

    records = await read_until(
        kafka_settings.bootstrap_servers, "cases.events.v1", of_tenant(tenant), count=3 * 71
    )
    per_case: dict[str, list[Record]] = defaultdict(list)
    for record in records:
        per_case[record.key.decode()].append(record)
    assert set(per_case) == set(notes)
    for key, events in per_case.items():
        assert len({record.partition for record in events}) == 1
        assert sum(len(record.value) for record in events) > 16_384
        payloads = [json.loads(record.value) for record in events]
        assert payloads[0]["type"] == "case.opened"
        assert [p["note_id"] for p in payloads[1:]] == notes[key]


async def test_rows_wait_while_kafka_is_down_and_go_out_once_it_is_back(
    sessions: SessionFactory, tenant: str, run_dir: Path
) -> None:
    port = free_port()
    kafka = KafkaSettings(bootstrap_servers=f"127.0.0.1:{port}", topic_partitions=3)
    relay = OutboxRelay(sessions, kafka, OutboxSettings(poll_interval_ms=10))
    relay.start()
    broker = TansuBroker(run_dir / "tansu-outbox-outage", port=port)
    try:
        case_ids = await open_cases(sessions, tenant, 2)  # no broker in the write path
        await asyncio.sleep(1.5)
        assert await unsent(sessions, tenant) == 2

        broker.start()
        await ensure_topics(kafka)
        async with asyncio.timeout(60):
            while True:
                if not await unsent(sessions, tenant):
                    break
                await asyncio.sleep(0.2)
        records = await read_until(
            kafka.bootstrap_servers, "cases.events.v1", of_tenant(tenant), count=2
        )
        assert {record.key.decode() for record in records} == {str(c) for c in case_ids}
    finally:
        await relay.stop()
        broker.stop()


async def test_sent_rows_are_deleted_once_older_than_kept_and_unsent_never(
    sessions: SessionFactory, kafka_settings: KafkaSettings, tenant: str
) -> None:
    await open_cases(sessions, tenant, 3)
    await drain_outbox(sessions, kafka_settings, keep_sent_seconds=3600)
    assert len(await sent_keys(sessions, tenant)) == 3  # marked sent, kept
    fresh = await open_cases(sessions, tenant, 1)  # never relayed: stays unsent
    async with transaction(sessions) as session:
        # One sent row two hours ago, one a minute ago.
        await session.execute(
            text(
                "UPDATE outbox SET sent_at = now() - CASE WHEN key = :old"
                " THEN interval '2 hours' ELSE interval '1 minute' END"
                " WHERE tenant_id = :t AND sent_at IS NOT NULL"
            ),
            {"t": tenant, "old": (await sent_keys(sessions, tenant))[0]},
        )
    relay = OutboxRelay(sessions, kafka_settings, OutboxSettings(keep_sent_seconds=3600))
    try:
        assert await relay.prune_sent() >= 1
    finally:
        await relay.stop()
    rows = await outbox_rows(sessions, tenant)
    assert len(rows) == 3  # the old sent row went; the recent sent rows and unsent stay
    assert [row.key for row in rows if row.sent_at is None] == [str(fresh[0])]

    # Once sent rows are no longer kept (the default), those kept earlier go as well.
    relay = OutboxRelay(sessions, kafka_settings, OutboxSettings())
    try:
        assert await relay.prune_sent() >= 2
    finally:
        await relay.stop()
    assert [row.key for row in await outbox_rows(sessions, tenant)] == [str(fresh[0])]


async def sent_keys(sessions: SessionFactory, tenant: str) -> list[str]:
    return [row.key for row in await outbox_rows(sessions, tenant) if row.sent_at is not None]


def outbox_scans(plan: dict[str, Any]) -> list[tuple[str, str | None, int]]:
    """(node type, index, times run) of every plan node that reads the outbox."""
    found = []
    if plan.get("Relation Name") == "outbox" and "Scan" in plan["Node Type"]:
        found.append((plan["Node Type"], plan.get("Index Name"), plan["Actual Loops"]))
    for child in plan.get("Plans", []):
        found += outbox_scans(child)
    return found


async def test_the_claim_reads_the_next_rows_by_index_however_stale_the_statistics(
    sessions: SessionFactory, tenant: str
) -> None:
    # Statistics of an empty outbox (as right after a deployment), then a backlog: the
    # relay must still read just the next rows by index, once, not scan or sort them all.
    async with transaction(sessions) as session:
        await session.execute(text("ANALYZE outbox"))
        await session.execute(
            text(
                "INSERT INTO outbox (event_id, tenant_id, topic, key, headers, payload)"
                " SELECT gen_random_uuid(), :t, 'cases.events.v1', 'k', '{}', '{}'"
                " FROM generate_series(1, 3000)"
            ),
            {"t": tenant},
        )
    for claim, parameters in (
        (CLAIM_AND_DELETE, {"limit": 500}),
        (CLAIM, {"limit": 500}),
        (PRUNE_SENT, {"scan": 10_000, "keep": 0}),
    ):
        async with sessions() as session:
            await session.execute(text(f"SELECT {INDEX_SCANS_ONLY}"))  # as the relay does
            explain = text(f"EXPLAIN (ANALYZE, FORMAT JSON) {claim.text}")
            (plan,) = (await session.execute(explain, parameters)).scalar_one()
            await session.rollback()  # EXPLAIN ANALYZE deleted rows
        scans = outbox_scans(plan["Plan"])
        assert scans, plan
        assert {(node, loops) for node, _, loops in scans} == {("Index Scan", 1)}, scans


async def test_a_round_is_bounded_in_messages_and_never_splits_a_batch_row(
    sessions: SessionFactory, kafka_settings: KafkaSettings, tenant: str
) -> None:
    def entries(start: int, count: int) -> list[BatchEntry]:
        return [
            BatchEntry(f"{tenant}:a{n}", str(uuid.uuid4()), f"a{n}", msgspec.Raw(b'{"n":%d}' % n))
            for n in range(start, start + count)
        ]

    await drain_outbox(sessions, kafka_settings)  # other tests' rows, to count ours alone
    headers = {"content-type": "application/json", "ce_tenantid": tenant}
    async with transaction(sessions) as session:
        for start in (0, 300, 600):  # three rows of 300 messages
            await insert_events(
                session, [], batch_rows(tenant, "alerts.v2", headers, entries(start, 300))
            )
    await open_cases(sessions, tenant, 1)  # then one row of one message

    relay = OutboxRelay(sessions, kafka_settings, OutboxSettings(enabled=False, batch_size=500))
    try:
        # 300 + 300: the second row starts below 500 messages, the third would not.
        assert [await relay.relay_once() for _ in range(3)] == [600, 301, 0]
        relay = OutboxRelay(sessions, kafka_settings, OutboxSettings(enabled=False, batch_size=100))
        async with transaction(sessions) as session:
            await insert_events(
                session, [], batch_rows(tenant, "alerts.v2", headers, entries(900, 300))
            )
        assert await relay.relay_once() == 300  # taken whole, alone
    finally:
        await relay.stop()
    assert await outbox_rows(sessions, tenant) == []

    records = await read_settled(
        kafka_settings.bootstrap_servers, ["alerts.v2"], of_tenant(tenant), count=1200
    )
    assert len(records) == 1200
    partitioner = DefaultPartitioner()
    by_key = {record.key.decode(): record for record in records}
    for n in range(1200):
        record = by_key[f"{tenant}:a{n}"]
        assert json.loads(record.value) == {"n": n}
        assert header(record, "ce_subject") == f"a{n}".encode()
        assert record.partition == partitioner(record.key, [0, 1, 2], [0, 1, 2])
    assert len({header(record, "ce_id") for record in records}) == 1200


def test_a_batch_rows_records_are_what_its_messages_would_have_been() -> None:
    # Pure: the relay's fast path for batch rows against each message's own headers.
    alerts = [
        NewAlert(uuid.uuid4(), "acme", Severity.HIGH, datetime.now(UTC), ALERT_COLUMNS)
        for _ in range(3)
    ]
    single = {"content-type": "application/json", "ce_id": "e-1", "ce_tenantid": "acme"}
    rows = [
        SimpleNamespace(
            topic=row["topic"],
            key=row["key"],
            headers=row["headers"],
            payload=str(row["payload"]),
            batch_messages=row.get("batch_messages"),
        )
        for row in alert_outbox_rows("test", [(uuid.uuid4(), alerts)])
    ]
    rows.insert(
        1,
        SimpleNamespace(
            topic="cases.events.v1", key="c", headers=single, payload='{"n":1}', batch_messages=None
        ),
    )

    published = outgoing_by_topic(rows)
    expected: dict[str, list[tuple[bytes, bytes, list[tuple[str, bytes]]]]] = defaultdict(list)
    for row in rows:
        for m in row_messages(row.topic, row.key, row.headers, row.payload, row.batch_messages):
            expected[m.topic].append(
                (m.key.encode(), m.payload.encode(), wire_headers(m.headers, m.headers["ce_id"]))
            )
    assert set(published) == {"alerts.v1", "alerts.v2", "cases.events.v1"}
    for topic, records in published.items():
        # Each message's correlation_id is its own ce_id.
        assert [(r.key, r.value, r.headers) for r in records] == expected[topic]


def test_a_row_without_a_cloudevents_id_gets_a_fresh_correlation_id() -> None:
    row = SimpleNamespace(
        topic="t",
        key="k",
        headers={"content-type": "application/json"},
        payload="{}",
        batch_messages=None,
    )
    first, second = (
        dict(outgoing_by_topic([row])["t"][0].headers)["correlation_id"] for _ in range(2)
    )
    assert len(first) == 36
    assert first != second
