"""End to end on real components: 500 real detections posted over HTTP to the ingest
process, grouped by the alerting process into cases in Postgres, case events relayed
through Tansu to the notifier (signed webhooks to a local receiver) and the executor
(a note on every critical case, added through the cases API process)."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from standardwebhooks.webhooks import Webhook

from libs.common.db.engine import SessionFactory
from libs.embedded.pipeline import PipelineConfig, ServiceProcesses
from libs.embedded.tansu import TansuBroker
from tests.support.corpus import e2e_sample
from tests.support.http_server import serve
from tests.support.outbox import outbox_messages
from tests.support.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.e2e
WINDOW = timedelta(minutes=15)  # the default alerting policy the pipeline runs with
DEADLINE_SECONDS = 90


def expected_partition(
    detections: list[dict[str, Any]], posted_at: datetime
) -> set[frozenset[str]]:
    """The grouping the default policy asks for, computed independently: one case per
    host per run of detections with no gap longer than the window. A detection without
    an event time counts at the time it was posted."""
    by_key: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    for d in detections:
        stamp = d.get("timestamp")
        when = datetime.fromisoformat(stamp.replace("Z", "+00:00")) if stamp else posted_at
        by_key[d["host"]["name"]].append((when, d["detection_id"]))
    cases: set[frozenset[str]] = set()
    for items in by_key.values():
        items.sort()
        current = [items[0][1]]
        for (before, _), (when, detection_id) in itertools.pairwise(items):
            if when - before > WINDOW:
                cases.add(frozenset(current))
                current = []
            current.append(detection_id)
        cases.add(frozenset(current))
    return cases


async def eventually(
    check: Callable[[], Awaitable[bool]], what: str, logs: Callable[[], str]
) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not await check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}\n{logs()}")
        await asyncio.sleep(0.25)


async def scalar(sessions: SessionFactory, sql: str, **params: Any) -> Any:
    async with sessions() as session:
        return (await session.execute(text(sql), params)).scalar()


async def snapshot(session: AsyncSession, tenant: str) -> dict[str, Any]:
    """Everything a re-post must leave untouched."""
    queries = {
        "alerts": "SELECT count(*) FROM alerts WHERE tenant_id = :t",
        "cases": "SELECT string_agg(id::text || ':' || alert_count || ':' || updated_at::text, ','"
        " ORDER BY id) FROM cases WHERE tenant_id = :t",
        "events": "SELECT count(*) FROM case_events WHERE tenant_id = :t",
        "outbox": "SELECT count(*) FROM outbox WHERE tenant_id = :t",
        "notes": "SELECT count(*) FROM case_notes WHERE tenant_id = :t",
        "runs": "SELECT count(*) FROM playbook_runs WHERE tenant_id = :t",
        "deliveries": "SELECT count(*) FROM webhook_deliveries WHERE tenant_id = :t",
    }
    return {k: (await session.execute(text(q), {"t": tenant})).scalar() for k, q in queries.items()}


@pytest.fixture
async def pipeline(
    tansu: TansuBroker, database_url: str, tenant: str, run_dir: Path
) -> AsyncIterator[tuple[PipelineConfig, ServiceProcesses, WebhookReceiver]]:
    receiver = WebhookReceiver()
    async with serve(receiver.app()) as receiver_url:
        config = PipelineConfig.with_fresh_credentials(
            database_url=database_url,
            bootstrap_servers=tansu.bootstrap_servers,
            tenant=tenant,
            log_dir=run_dir / "e2e-logs",
            webhook_urls=[f"{receiver_url}/hook"],
            # A consumer group per test run, so earlier runs' offsets never interfere;
            # sent outbox rows kept (deleted as sent by default), so the test can match
            # every audit event to its outbox row.
            extra_env={
                **{
                    f"CASESTREAM__{name.upper()}__CONSUMER_GROUP": f"{name}-{tenant}"
                    for name in ("alerting", "notifier", "executor")
                },
                "CASESTREAM__OUTBOX__KEEP_SENT_SECONDS": "3600",
            },
        )
        services = ServiceProcesses(config)
        await asyncio.to_thread(services.start)
        try:
            yield config, services, receiver
        finally:
            await asyncio.to_thread(services.stop)


async def post_all(
    config: PipelineConfig, detections: list[dict[str, Any]], counted_as: str = "accepted"
) -> None:
    headers = {"authorization": f"Bearer {config.ingest_key}"}
    async with httpx.AsyncClient(base_url=config.ingest_url, timeout=30) as client:
        for start in range(0, len(detections), 100):
            response = await client.post(
                "/api/v1/detections", json=detections[start : start + 100], headers=headers
            )
            assert response.status_code == 202, response.text
            body = response.json()
            assert {item["status"] for item in body["items"]} == {counted_as}


async def test_detections_become_cases_webhooks_and_playbook_notes(
    pipeline: tuple[PipelineConfig, ServiceProcesses, WebhookReceiver],
    sessions: SessionFactory,
    shared_data: Path,
    tenant: str,
) -> None:
    config, services, receiver = pipeline
    detections = e2e_sample(shared_data, 500)
    posted_at = datetime.now(UTC)
    await post_all(config, detections)

    async def all_stored() -> bool:
        count = await scalar(sessions, "SELECT count(*) FROM alerts WHERE tenant_id = :t", t=tenant)
        return bool(count == len(detections))

    await eventually(all_stored, "500 alerts", services.log_tails)

    # Every detection stored once, under its own id.
    async with sessions() as session:
        rows = (
            await session.execute(
                text("SELECT detection_id, case_id FROM alerts WHERE tenant_id = :t"), {"t": tenant}
            )
        ).all()
    assert sorted(r.detection_id for r in rows) == sorted(d["detection_id"] for d in detections)

    # Cases grouped as designed: the same host within the window shares a case.
    actual: dict[uuid.UUID, set[str]] = defaultdict(set)
    for row in rows:
        actual[row.case_id].add(row.detection_id)
    assert {frozenset(v) for v in actual.values()} == expected_partition(detections, posted_at)
    case_count = len(actual)

    # Every case.opened reaches the receiver, signed per Standard Webhooks.
    async def all_delivered() -> bool:
        return len({w.headers["webhook-id"] for w in receiver.received}) >= case_count

    await eventually(all_delivered, f"{case_count} webhooks", services.log_tails)
    verifier = Webhook(config.webhook_secret)
    opened_ids = set()
    for webhook in receiver.received:
        payload = verifier.verify(webhook.body, webhook.headers)
        assert payload["type"] == "case.opened"
        assert payload["data"]["tenant_id"] == tenant
        opened_ids.add(payload["data"]["case_id"])
    assert opened_ids == {str(case_id) for case_id in actual}

    # The executor's note is on every critical case, and only there.
    critical = {
        r[0]
        for r in (
            await _rows(
                sessions,
                "SELECT id FROM cases WHERE tenant_id = :t AND severity = 'critical'",
                tenant,
            )
        )
    }
    assert critical, "the sample must contain critical detections"

    async def notes_added() -> bool:
        n = await scalar(sessions, "SELECT count(*) FROM case_notes WHERE tenant_id = :t", t=tenant)
        return bool(n == len(critical))

    await eventually(notes_added, "executor notes", services.log_tails)
    analyst = {"authorization": f"Bearer {config.analyst_key}"}
    async with httpx.AsyncClient(base_url=config.cases_url, headers=analyst) as client:
        for case_id in critical:
            case = (await client.get(f"/api/v1/cases/{case_id}")).json()
            assert [n["author"] for n in case["notes"]] == ["executor-playbooks"]
            timeline = [e["type"] for e in case["timeline"]]
            assert timeline[0] == "case.opened"
            assert "case.note_added" in timeline

    # Every case change wrote exactly one audit event and one outbox row, all relayed.
    async def outbox_drained() -> bool:
        unsent = await scalar(
            sessions,
            "SELECT count(*) FROM outbox WHERE tenant_id = :t AND sent_at IS NULL",
            t=tenant,
        )
        return bool(unsent == 0)

    await eventually(outbox_drained, "outbox relay", services.log_tails)
    audit = {
        r[0]
        for r in await _rows(
            sessions, "SELECT event_id FROM case_events WHERE tenant_id = :t", tenant
        )
    }
    outbox = {
        r[0]
        for r in await _rows(
            sessions,
            "SELECT event_id FROM outbox WHERE tenant_id = :t AND topic = 'cases.events.v1'",
            tenant,
        )
    }
    assert audit == outbox
    # And every stored alert went out on alerts.v1 with the case it joined.
    published = [
        (m.payload["detection_id"], m.payload["case_id"])
        for m in await outbox_messages(sessions, tenant)
        if m.topic == "alerts.v1"
    ]
    assert sorted((d, uuid.UUID(c)) for d, c in published) == sorted(
        (r.detection_id, r.case_id) for r in rows
    )

    # Posting the same 500 again: each is a duplicate, counted on its alert; no alert,
    # case, event, note or webhook more.
    async with sessions() as session:
        before = await snapshot(session, tenant)
    deliveries_before = len(receiver.received)
    await post_all(config, detections, counted_as="duplicate")
    await _wait_consumed(config, services)
    async with sessions() as session:
        assert await snapshot(session, tenant) == before
    assert len(receiver.received) == deliveries_before
    counts = await _rows(
        sessions,
        "SELECT occurrence_count, count(*) FROM alerts WHERE tenant_id = :t GROUP BY 1",
        tenant,
    )
    assert [tuple(row) for row in counts] == [(2, len(detections))]


async def _rows(sessions: SessionFactory, sql: str, tenant: str) -> list[Any]:
    async with sessions() as session:
        return list((await session.execute(text(sql), {"t": tenant})).all())


async def _wait_consumed(config: PipelineConfig, services: ServiceProcesses) -> None:
    """Wait until alerting has committed offsets up to the end of detections.v1.

    Reads the group's offsets through a consumer of that group that never joins it:
    Tansu's answer to the admin client's OffsetFetch version does not decode."""
    group = config.extra_env["CASESTREAM__ALERTING__CONSUMER_GROUP"]
    probe = AIOKafkaConsumer(
        bootstrap_servers=config.bootstrap_servers, group_id=group, enable_auto_commit=False
    )
    await probe.start()
    try:
        await probe.topics()  # loads metadata, so the partition list is known
        partitions = [
            TopicPartition("detections.v1", p)
            for p in probe.partitions_for_topic("detections.v1") or set()
        ]
        assert partitions, "detections.v1 has no partitions"

        async def caught_up() -> bool:
            ends = await probe.end_offsets(partitions)
            for partition, end in ends.items():
                if (await probe.committed(partition) or 0) < end:
                    return False
            return True

        await eventually(caught_up, "alerting to consume the re-post", services.log_tails)
    finally:
        await probe.stop()
