"""How the alert indexer learns what to write: alerting names changed alerts in the
outbox only while the store is OpenSearch (Postgres alone keeps today's writes exactly),
and the indexer reads those messages and case events into per-tenant work."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import text

from libs.common.alertstore.changes import alerts_changed_outbox_rows
from libs.common.contracts.alerts import AlertsChangedV1
from libs.common.contracts.topics import ALERTS_CHANGED, CASE_EVENTS
from libs.common.db.engine import SessionFactory, transaction
from services.alerting.indexer_handlers import read_changes
from services.alerting.service import GroupingService
from tests.alertstore.support import GROUPING, NO_CASES, STORE, seen
from tests.support.detections import T0, host_rule_policy

SILENT = GroupingService(STORE, host_rule_policy())  # the default: announce_changes=False


async def announced(sessions: SessionFactory, tenant: str) -> list[set[str]]:
    async with sessions() as session:
        rows = await session.execute(
            text("SELECT payload FROM outbox WHERE tenant_id = :t AND topic = :topic ORDER BY id"),
            {"t": tenant, "topic": ALERTS_CHANGED.name},
        )
    return [set(row.payload["alert_ids"]) for row in rows]


async def alert_ids(sessions: SessionFactory, tenant: str) -> dict[str, str]:
    async with sessions() as session:
        rows = await session.execute(
            text("SELECT detection_id, id FROM alerts WHERE tenant_id = :t"), {"t": tenant}
        )
    return {row.detection_id: str(row.id) for row in rows}


async def test_with_postgres_alone_alerting_writes_no_change_messages(
    sessions: SessionFactory, tenant: str
) -> None:
    async with transaction(sessions) as session:
        outcome = await SILENT.process(session, [seen(tenant, "d1"), seen(tenant, "d2")])
    assert outcome.stored == 2
    assert await announced(sessions, tenant) == []


async def test_stored_uncased_and_repeated_alerts_are_announced_in_their_transaction(
    sessions: SessionFactory, tenant: str
) -> None:
    async with transaction(sessions) as session:
        await GROUPING.process(session, [seen(tenant, "cased", occurrence="o1")])
    async with transaction(sessions) as session:
        await NO_CASES.process(session, [seen(tenant, "uncased", host="h9")])
    ids = await alert_ids(sessions, tenant)
    assert await announced(sessions, tenant) == [{ids["cased"]}, {ids["uncased"]}]

    repeat = seen(tenant, "cased", occurrence="o2").model_copy(
        update={"ingested_at": T0 + timedelta(hours=1)}
    )
    async with transaction(sessions) as session:
        await GROUPING.process(session, [repeat])
    # The same batch delivered again changes nothing, so it announces nothing.
    async with transaction(sessions) as session:
        await GROUPING.process(session, [repeat])
    assert (await announced(sessions, tenant))[2:] == [{ids["cased"]}]


async def test_a_rolled_back_batch_announces_nothing(sessions: SessionFactory, tenant: str) -> None:
    try:
        async with transaction(sessions) as session:
            await GROUPING.process(session, [seen(tenant, "d1")])
            raise RuntimeError("the batch fails after grouping")
    except RuntimeError:
        pass
    assert await announced(sessions, tenant) == []


def test_change_messages_are_chunked_and_valid() -> None:
    ids = [uuid.uuid4() for _ in range(2_500)]
    rows = alerts_changed_outbox_rows("casestream/alerting", "t1", ids)
    assert [len(row["payload"]["alert_ids"]) for row in rows] == [1_000, 1_000, 500]
    assert {row["topic"] for row in rows} == {ALERTS_CHANGED.name}
    assert {row["key"] for row in rows} == {"t1"}
    messages = [AlertsChangedV1.model_validate(row["payload"]) for row in rows]
    assert sorted(a for m in messages for a in m.alert_ids) == sorted(ids)


def record(topic: str, payload: dict[str, Any] | bytes, offset: int = 0) -> SimpleNamespace:
    value = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return SimpleNamespace(topic=topic, value=value, partition=0, offset=offset)


def test_the_indexer_reads_alert_ids_and_whole_cases_from_its_topics() -> None:
    changed, moved, case_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    records = (
        record(
            ALERTS_CHANGED.name,
            {"tenant_id": "t1", "alert_ids": [str(changed)], "changed_at": T0.isoformat()},
        ),
        record(
            CASE_EVENTS.name,
            {
                "type": "case.alert_removed",
                "tenant_id": "t1",
                "case_id": str(uuid.uuid4()),
                "alert_ids": [str(moved)],
            },
        ),
        record(
            CASE_EVENTS.name, {"type": "case.deleted", "tenant_id": "t2", "case_id": str(case_id)}
        ),
        record(
            CASE_EVENTS.name,
            {"type": "case.status_changed", "tenant_id": "t3", "case_id": str(uuid.uuid4())},
        ),
        record(ALERTS_CHANGED.name, b"not json", offset=4),
        record(CASE_EVENTS.name, {"type": "case.restored"}, offset=5),
    )
    changes = read_changes(records)
    assert changes.tenants() == ["t1", "t2"]
    assert changes.alerts["t1"] == {changed, moved}
    assert changes.cases["t2"] == {case_id}
