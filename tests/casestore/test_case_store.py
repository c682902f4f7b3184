"""The case store: each change writes exactly one audit event and one outbox row, in the
caller's transaction; the lifecycle refuses illegal moves."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from libs.common.casestore.store import CaseStore, NewAlert, NewCase
from libs.common.contracts.cases import CaseStatus
from libs.common.contracts.detections import Severity
from libs.common.db.engine import SessionFactory, transaction
from libs.common.errors import IllegalTransition, NotFound
from tests.support.outbox import outbox_messages

STORE = CaseStore(source="casestream/test")
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def alert(
    tenant: str, detection_id: str, severity: Severity = Severity.LOW, offset_minutes: int = 0
) -> NewAlert:
    at = T0 + timedelta(minutes=offset_minutes)
    return NewAlert(
        id=uuid.uuid4(),
        tenant_id=tenant,
        severity=severity,
        effective_time=at,
        columns={
            "detection_id": detection_id,
            "title": "t",
            "rule_id": "r1",
            "rule_name": "Rule",
            "host": "h1",
            "source": "test",
            "group_key": "k",
            "event_time": at,
            "time_fallback": False,
            "ingested_at": at,
            "detection": {},
        },
    )


async def events_and_outbox(
    sessions: SessionFactory, case_id: uuid.UUID
) -> tuple[list[Any], list[Any]]:
    async with sessions() as session:
        events = (
            await session.execute(
                text(
                    "SELECT event_id, type, actor, payload FROM case_events WHERE case_id = :c ORDER BY seq"
                ),
                {"c": case_id},
            )
        ).all()
        outbox = (
            await session.execute(
                text(
                    "SELECT event_id, topic, key, headers FROM outbox WHERE payload->>'case_id' = :c "
                    "AND topic = 'cases.events.v1' "
                    "ORDER BY id"
                ),
                {"c": str(case_id)},
            )
        ).all()
    return list(events), list(outbox)


async def open_case(sessions: SessionFactory, tenant: str, alerts: list[NewAlert]) -> uuid.UUID:
    async with transaction(sessions) as session:
        case, _ = await STORE.open_case(
            session,
            NewCase(tenant_id=tenant, title="Case", severity=Severity.LOW),
            alerts,
            "tester",
        )
    return case.id


async def test_open_case_writes_one_event_and_one_outbox_row(
    sessions: SessionFactory, tenant: str
) -> None:
    case_id = await open_case(sessions, tenant, [alert(tenant, "d1"), alert(tenant, "d2")])
    events, outbox = await events_and_outbox(sessions, case_id)
    assert [e.type for e in events] == ["case.opened"]
    assert events[0].actor == "tester"
    assert len(events[0].payload["alert_ids"]) == 2
    assert [(o.event_id, o.topic, o.key) for o in outbox] == [
        (events[0].event_id, "cases.events.v1", str(case_id))
    ]
    headers = outbox[0].headers
    assert headers["ce_type"] == "casestream.case.opened.v1"
    assert headers["ce_tenantid"] == tenant
    assert headers["ce_id"] == str(events[0].event_id)


async def test_case_numbers_count_per_tenant(sessions: SessionFactory, tenant: str) -> None:
    ids = [await open_case(sessions, tenant, []) for _ in range(3)]
    async with sessions() as session:
        numbers = (
            (
                await session.execute(
                    text("SELECT number FROM cases WHERE id = ANY(:ids) ORDER BY number"),
                    {"ids": ids},
                )
            )
            .scalars()
            .all()
        )
    assert numbers == [1, 2, 3]


async def test_attaching_grows_the_case_and_upgrades_severity(
    sessions: SessionFactory, tenant: str
) -> None:
    case_id = await open_case(sessions, tenant, [alert(tenant, "d1")])
    async with transaction(sessions) as session:
        inserted = await STORE.attach_alerts(
            session,
            tenant,
            case_id,
            [alert(tenant, "d2", Severity.HIGH, 30), alert(tenant, "d3", Severity.LOW, -30)],
            "tester",
        )
    assert len(inserted) == 2
    events, outbox = await events_and_outbox(sessions, case_id)
    assert [e.type for e in events] == [
        "case.opened",
        "case.alert_attached",
        "case.severity_upgraded",
    ]
    assert events[2].payload["from_severity"] == "low"
    assert events[2].payload["to_severity"] == "high"
    assert [o.event_id for o in outbox] == [e.event_id for e in events]
    async with sessions() as session:
        row = (
            await session.execute(
                text(
                    "SELECT alert_count, severity, first_event_at, last_event_at FROM cases WHERE id = :c"
                ),
                {"c": case_id},
            )
        ).one()
    assert (row.alert_count, row.severity) == (3, "high")
    assert (row.first_event_at, row.last_event_at) == (
        T0 - timedelta(minutes=30),
        T0 + timedelta(minutes=30),
    )


async def test_attaching_a_stored_detection_changes_nothing(
    sessions: SessionFactory, tenant: str
) -> None:
    case_id = await open_case(sessions, tenant, [alert(tenant, "d1")])
    async with transaction(sessions) as session:
        inserted = await STORE.attach_alerts(
            session, tenant, case_id, [alert(tenant, "d1")], "tester"
        )
    assert inserted == []
    events, _ = await events_and_outbox(sessions, case_id)
    assert [e.type for e in events] == ["case.opened"]


async def test_status_follows_the_lifecycle(sessions: SessionFactory, tenant: str) -> None:
    case_id = await open_case(sessions, tenant, [])
    async with transaction(sessions) as session:
        case = await STORE.change_status(session, tenant, case_id, CaseStatus.IN_PROGRESS, "ana")
    assert case.acknowledged_at is not None  # the first move out of triage counts for MTTA
    with pytest.raises(IllegalTransition) as refused:
        async with transaction(sessions) as session:
            await STORE.change_status(session, tenant, case_id, CaseStatus.NEW, "ana")
    assert refused.value.details["allowed"] == ["closed", "escalated", "merged", "resolved"]
    events, outbox = await events_and_outbox(sessions, case_id)
    assert [e.type for e in events] == ["case.opened", "case.status_changed"]
    assert len(outbox) == 2


async def test_other_tenants_cannot_touch_a_case(sessions: SessionFactory, tenant: str) -> None:
    case_id = await open_case(sessions, tenant, [])
    with pytest.raises(NotFound):
        async with transaction(sessions) as session:
            await STORE.change_status(session, "someone-else", case_id, CaseStatus.CLOSED, "eve")


async def test_a_repeated_note_key_adds_one_note(sessions: SessionFactory, tenant: str) -> None:
    case_id = await open_case(sessions, tenant, [])
    results = []
    for _ in range(2):
        async with transaction(sessions) as session:
            results.append(await STORE.add_note(session, tenant, case_id, "bot", "hello", "key-1"))
    (first, created), (second, created_again) = results
    assert (created, created_again) == (True, False)
    assert first.id == second.id
    events, outbox = await events_and_outbox(sessions, case_id)
    assert [e.type for e in events] == ["case.opened", "case.note_added"]
    assert len(outbox) == 2


async def test_a_failed_transaction_leaves_no_event(sessions: SessionFactory, tenant: str) -> None:
    case_id = await open_case(sessions, tenant, [])
    with pytest.raises(RuntimeError):
        async with transaction(sessions) as session:
            await STORE.change_status(session, tenant, case_id, CaseStatus.IN_PROGRESS, "ana")
            raise RuntimeError("crash before commit")
    events, outbox = await events_and_outbox(sessions, case_id)
    assert [e.type for e in events] == ["case.opened"]
    assert len(outbox) == 1


@pytest.mark.parametrize(
    ("publish_v1", "topics"),
    [(True, ["alerts.v1", "alerts.v1", "alerts.v2", "alerts.v2"]), (False, ["alerts.v2"] * 2)],
)
async def test_alerts_v1_is_written_only_while_it_is_published(
    sessions: SessionFactory, tenant: str, publish_v1: bool, topics: list[str]
) -> None:
    store = CaseStore("test", publish_alerts_v1=publish_v1)
    async with transaction(sessions) as session:
        await store.open_case(
            session,
            NewCase(tenant_id=tenant, title="t", severity=Severity.LOW),
            [alert(tenant, "d1"), alert(tenant, "d2")],
            "tester",
        )
    rows = await outbox_messages(sessions, tenant)
    assert sorted(r.topic for r in rows if r.topic.startswith("alerts.")) == topics


async def test_an_alert_without_entities_gets_its_keys_from_its_detection(
    sessions: SessionFactory, tenant: str
) -> None:
    # A writer that does not name the entities (entities=None): the store reads them
    # from the detection, as the SQL function of migration 0019 would.
    plain = alert(tenant, "d1")
    plain.columns["detection"] = {
        "entities": [{"type": "user", "value": "Bob"}, {"type": "ip", "value": "10.0.0.9"}]
    }
    await open_case(sessions, tenant, [plain])
    async with sessions() as session:
        stored, computed = (
            await session.execute(
                text(
                    "SELECT entity_keys,"
                    " casestream_alert_entity_keys(tenant_id, detection::jsonb, host)"
                    " FROM alerts WHERE id = :id"
                ),
                {"id": plain.id},
            )
        ).one()
    assert sorted(stored) == sorted(computed)
    assert sorted(stored) == [f"{tenant}/host=h1", f"{tenant}/ip=10.0.0.9", f"{tenant}/user=bob"]
