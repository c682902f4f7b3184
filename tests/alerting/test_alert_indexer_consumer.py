"""The alert indexer's Kafka consumer on the real broker and Postgres: the outbox rows of a
grouping transaction and of a case deletion, published as the relay publishes them, reach
the alert index as alerts re-read from Postgres; a batch the index could not take is read
again, and its offsets are committed only once it was taken.

The index here is an in-memory stand-in for OpenSearch (none runs on these machines): it
records what it is asked to write and can answer "try again" like a busy cluster. The
real OpenSearch writes are covered by tests/alertstore against a real server."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, cast

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from faststream import FastStream
from sqlalchemy import text

from libs.common.alertstore.indexer import AlertIndexer
from libs.common.alertstore.model import AlertDocument, AlertRef, FailedItem, IndexOutcome
from libs.common.alertstore.postgres import PostgresAlertStore
from libs.common.contracts.topics import ALERTS_CHANGED, CASE_EVENTS, DETECTIONS
from libs.common.db.engine import SessionFactory, transaction
from libs.common.kafka import create_broker
from libs.common.settings import AlertStoreKind, AlertStoreSettings, KafkaSettings
from services.alerting.app import create_app
from services.alerting.indexer_handlers import register_alert_indexer
from services.alerting.settings import AlertIndexerSection, AlertingSettings
from tests.alertstore.support import GROUPING, STORE, seen


class RecordingIndex:
    """Takes the test tenant's writes like OpenSearch would, answering the first
    `busy_calls` of them with 503. Other tenants' alerts (other tests' events still on
    the topics) are taken and not recorded."""

    def __init__(self, tenant: str, busy_calls: int = 0) -> None:
        self.tenant = tenant
        self.busy_calls = busy_calls
        self.calls = 0  # writes that carried the tenant's alerts
        self.documents: dict[uuid.UUID, AlertDocument] = {}

    async def prepare(self) -> None:
        return None

    async def index(
        self, documents: Sequence[AlertDocument], version: int | None = None
    ) -> IndexOutcome:
        mine = [d for d in documents if d.tenant_id == self.tenant]
        if mine:
            self.calls += 1
            if self.calls <= self.busy_calls:
                return IndexOutcome(failed=[FailedItem(str(d.id), 503, "busy") for d in mine])
        self.documents.update({d.id: d for d in mine})
        return IndexOutcome(indexed=[str(d.id) for d in documents])

    async def remove(self, refs: Sequence[AlertRef], version: int | None = None) -> IndexOutcome:
        for ref in refs:
            self.documents.pop(ref.id, None)
        return IndexOutcome(removed=[str(ref.id) for ref in refs])


async def skip_backlog(kafka: KafkaSettings, group: str) -> None:
    """Commit the group's offsets at the topics' ends, so the indexer under test starts
    after what earlier tests published instead of re-reading all of it."""
    consumer = AIOKafkaConsumer(
        ALERTS_CHANGED.name,
        CASE_EVENTS.name,
        bootstrap_servers=kafka.bootstrap_servers,
        group_id=group,
        enable_auto_commit=False,
        request_timeout_ms=kafka.request_timeout_ms,
    )
    await consumer.start()
    try:
        async with asyncio.timeout(60):
            while not consumer.assignment():
                await consumer.getmany(timeout_ms=200)
        await consumer.seek_to_end()
        await consumer.commit({tp: await consumer.position(tp) for tp in consumer.assignment()})
    finally:
        await consumer.stop()


async def running_indexer(
    kafka: KafkaSettings, sessions: SessionFactory, index: RecordingIndex
) -> FastStream:
    broker = create_broker(kafka, client_id="alert-indexer-test")
    group = f"alert-indexer-{uuid.uuid4().hex}"
    await skip_backlog(kafka, group)
    section = AlertIndexerSection(consumer_group=group, retry_pause_seconds=0.1)
    register_alert_indexer(
        broker, kafka, section, AlertIndexer(PostgresAlertStore(sessions), index)
    )
    app = FastStream(broker, logger=None)
    await app.start()
    return app


Relay = Callable[[str, str], Awaitable[None]]


@pytest.fixture
async def relay_rows(
    kafka_settings: KafkaSettings, sessions: SessionFactory
) -> AsyncIterator[Relay]:
    """Publish the tenant's outbox rows of one topic as the relay does (key, JSON)."""
    producer = AIOKafkaProducer(bootstrap_servers=kafka_settings.bootstrap_servers)
    await producer.start()
    published: set[int] = set()

    async def publish(tenant: str, topic: str) -> None:
        async with sessions() as session:
            rows = (
                await session.execute(
                    text(
                        "SELECT id, topic, key, payload FROM outbox"
                        " WHERE tenant_id = :t AND topic = :topic ORDER BY id"
                    ),
                    {"t": tenant, "topic": topic},
                )
            ).all()
        for row in rows:
            if row.id not in published:
                published.add(row.id)
                value = json.dumps(row.payload).encode()
                await producer.send_and_wait(row.topic, value, key=row.key.encode())

    yield publish
    await producer.stop()


async def until(condition: Callable[[], bool], seconds: float = 45) -> None:
    async with asyncio.timeout(seconds):
        while True:
            if condition():
                return
            await asyncio.sleep(0.2)


async def test_alerts_reach_the_index_and_leave_it_with_their_deleted_case(
    kafka_settings: KafkaSettings,
    sessions: SessionFactory,
    tenant: str,
    relay_rows: Relay,
) -> None:
    index = RecordingIndex(tenant, busy_calls=1)
    app = await running_indexer(kafka_settings, sessions, index)
    try:
        async with transaction(sessions) as session:
            await GROUPING.process(session, [seen(tenant, "d1"), seen(tenant, "d2", host="h2")])
        # Only alerts.changed.v1 (the case events name these alerts too).
        await relay_rows(tenant, ALERTS_CHANGED.name)
        await until(lambda: len(index.documents) == 2)
        # The first write was refused as busy: the same batch came again and was taken.
        assert index.calls == 2
        assert {d.detection_id for d in index.documents.values()} == {"d1", "d2"}
        assert all(d.detection is not None for d in index.documents.values())

        d1 = next(d for d in index.documents.values() if d.detection_id == "d1")
        assert d1.case_id is not None
        async with transaction(sessions) as session:
            await STORE.delete_case(session, tenant, d1.case_id, "tester")
        await relay_rows(tenant, CASE_EVENTS.name)
        await until(lambda: d1.id not in index.documents)
        assert [d.detection_id for d in index.documents.values()] == ["d2"]
    finally:
        await app.stop()


@pytest.mark.parametrize(
    ("kind", "indexer_topics"),
    [
        (AlertStoreKind.POSTGRES, []),
        (AlertStoreKind.OPENSEARCH, [[ALERTS_CHANGED.name, CASE_EVENTS.name]]),
    ],
)
def test_alerting_runs_the_indexer_only_with_opensearch(
    kind: AlertStoreKind, indexer_topics: list[list[str]]
) -> None:
    app = create_app(AlertingSettings(alert_store=AlertStoreSettings(kind=kind)))
    assert app.broker is not None
    # Kafka subscribers have topics; the generic subscriber type does not say so.
    subscribed = [sorted(t.name for t in cast(Any, s).topics) for s in app.broker.subscribers]
    assert [topics for topics in subscribed if topics != [DETECTIONS.name]] == indexer_topics
