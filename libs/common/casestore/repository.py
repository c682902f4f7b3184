"""SQL for the case store. Every statement filters on the tenant."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from libs.common.db.array_insert import ArrayInsert
from libs.common.db.models import (
    Case,
    CaseAttachment,
    CaseEvent,
    CaseNote,
    TenantCasePolicy,
)


async def allocate_case_numbers(
    session: AsyncSession, tenant_id: str, count: int
) -> tuple[int, datetime]:
    """Reserve `count` consecutive case numbers; returns the first, and the transaction's
    now(), which is the new cases' created_at (SLA due times count from it).

    The upsert locks the tenant's counter row until commit: numbers never repeat, at the
    cost of serializing case creation within one tenant (one statement per batch)."""
    result = await session.execute(
        text(
            "INSERT INTO case_number_counters (tenant_id, last_number) VALUES (:tenant, :n) "
            "ON CONFLICT (tenant_id) DO UPDATE "
            "SET last_number = case_number_counters.last_number + :n "
            "RETURNING last_number, now() AS opened_at"
        ),
        {"tenant": tenant_id, "n": count},
    )
    row = result.one()
    return int(row.last_number) - count + 1, row.opened_at


async def transaction_time(session: AsyncSession) -> datetime:
    """The transaction's now(): what a case inserted in it gets as created_at."""
    now: datetime = (await session.execute(text("SELECT now()"))).scalar_one()
    return now


async def insert_cases(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> list[Case]:
    """Insert new cases in one executemany; returns them as stored, in the rows' order."""
    statement = insert(Case).returning(Case, sort_by_parameter_order=True)
    return list((await session.execute(statement, list(rows))).scalars())


async def lock_cases(
    session: AsyncSession, tenant_id: str, case_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Case]:
    if not case_ids:
        return {}
    statement = (
        select(Case)
        .where(Case.tenant_id == tenant_id, col(Case.id).in_(sorted(set(case_ids))))
        .order_by(col(Case.id))  # one lock order for every writer: no deadlocks
        .with_for_update()
    )
    return {case.id: case for case in (await session.execute(statement)).scalars()}


async def update_cases_growth(
    session: AsyncSession, tenant_id: str, updates: Sequence[dict[str, Any]]
) -> None:
    """Write the new counts, severities and event-time spans of grown cases at once."""
    if not updates:
        return
    table = Case.__table__  # type: ignore[attr-defined]
    statement = (
        update(table)
        .where(table.c.id == bindparam("case_id"), table.c.tenant_id == tenant_id)
        .values(
            alert_count=bindparam("alert_count"),
            severity=bindparam("severity"),
            first_event_at=bindparam("first_event_at"),
            last_event_at=bindparam("last_event_at"),
            ack_due_at=bindparam("ack_due_at"),
            resolve_due_at=bindparam("resolve_due_at"),
            updated_at=func.now(),
        )
    )
    await session.execute(statement, list(updates))


async def lock_case(session: AsyncSession, tenant_id: str, case_id: uuid.UUID) -> Case | None:
    # populate_existing: the locked row's current values, not what an earlier statement of
    # this session left in the identity map.
    statement = (
        select(Case)
        .where(Case.tenant_id == tenant_id, Case.id == case_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def update_case(
    session: AsyncSession, tenant_id: str, case_id: uuid.UUID, values: dict[str, Any]
) -> Case:
    statement = (
        update(Case)
        .where(col(Case.tenant_id) == tenant_id, col(Case.id) == case_id)
        .values(**values, updated_at=func.now())
        .returning(Case)
    )
    return (await session.execute(statement)).scalar_one()


# stored_at takes its default.
INSERT_ALERTS = ArrayInsert(
    "alerts",
    {
        "id": "uuid",
        "tenant_id": "text",
        "detection_id": "text",
        "case_id": "uuid",
        "title": "text",
        "severity": "text",
        "rule_id": "text",
        "rule_name": "text",
        "host": "text",
        "source": "text",
        "group_key": "text",
        "event_time": "timestamptz",
        "effective_time": "timestamptz",
        "time_fallback": "boolean",
        "ingested_at": "timestamptz",
        "detection": "text",  # a JSON document (db.columns.JSONText)
        "entity_keys": "text[]",
        "grouping": "jsonb",
        "occurrence_id": "text",
        "occurrence_count": "integer",
        "last_seen": "timestamptz",
        "fingerprint": "text",
    },
    "ON CONFLICT (tenant_id, detection_id) DO NOTHING RETURNING id",
    defaults={"occurrence_count": 1},
    documents=frozenset({"detection"}),
)
# id and created_at take their defaults.
INSERT_OUTBOX = ArrayInsert(
    "outbox",
    {
        "event_id": "uuid",
        "tenant_id": "text",
        "topic": "text",
        "key": "text",
        "headers": "json",
        "payload": "json",
        # Set on batch rows only (libs/common/outbox_batches.py).
        "batch_messages": "integer",
    },
)


async def insert_alerts(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> list[uuid.UUID]:
    """Insert alerts; a (tenant, detection_id) already stored is skipped, not an error."""
    if not rows:
        return []
    inserted: list[uuid.UUID] = []
    for parameters in INSERT_ALERTS.parameter_chunks(rows):
        inserted += (await session.execute(INSERT_ALERTS.statement, parameters)).scalars()
    return inserted


# Each stored alert's detection entities and host, lower-cased and cut to what a btree key
# holds, become rows of case_entities (migration 0011 backfilled older alerts the same way).
# The detection is text (migration 0030): parsed once here, as json.
RECORD_CASE_ENTITIES = text(
    "INSERT INTO case_entities (tenant_id, value, entity_type, case_id) "
    "SELECT a.tenant_id, left(lower(e->>'value'), 512), left(e->>'type', 32), a.case_id "
    "FROM alerts a CROSS JOIN LATERAL (SELECT CAST(a.detection AS json)->'entities' AS list) d"
    " CROSS JOIN LATERAL json_array_elements("
    " CASE WHEN json_typeof(d.list) = 'array' THEN d.list ELSE '[]' END) AS e "
    "WHERE a.tenant_id = :tenant AND a.id = ANY(:ids) AND a.case_id IS NOT NULL"
    " AND e->>'value' <> '' AND e->>'type' IS NOT NULL "
    "UNION "
    "SELECT a.tenant_id, left(lower(a.host), 512), 'host', a.case_id FROM alerts a "
    "WHERE a.tenant_id = :tenant AND a.id = ANY(:ids) AND a.case_id IS NOT NULL"
    " AND a.host <> '' "
    "ON CONFLICT DO NOTHING"
)


async def insert_case_entities(
    session: AsyncSession, tenant_id: str, rows: Sequence[tuple[str, str, uuid.UUID]]
) -> None:
    """(value, entity type, case id) rows, values already folded and cut."""
    if rows:
        await session.execute(
            text(
                "INSERT INTO case_entities (tenant_id, value, entity_type, case_id)"
                " SELECT CAST(:tenant AS varchar), v, t, c FROM unnest(CAST(:values AS text[]),"
                " CAST(:types AS text[]), CAST(:cases AS uuid[])) AS r(v, t, c)"
                " ON CONFLICT DO NOTHING"
            ),
            {
                "tenant": tenant_id,
                "values": [row[0] for row in rows],
                "types": [row[1] for row in rows],
                "cases": [row[2] for row in rows],
            },
        )


async def insert_alert_matched_events(
    session: AsyncSession, tenant_id: str, rows: Sequence[tuple[str, uuid.UUID]]
) -> None:
    """(event id, alert id) rows of the chain strategy's index."""
    if rows:
        await session.execute(
            text(
                "INSERT INTO alert_matched_events (tenant_id, event_id, alert_id)"
                " SELECT CAST(:tenant AS varchar), e, a FROM unnest(CAST(:events AS text[]),"
                " CAST(:alerts AS uuid[])) AS r(e, a) ON CONFLICT DO NOTHING"
            ),
            {
                "tenant": tenant_id,
                "events": [row[0] for row in rows],
                "alerts": [row[1] for row in rows],
            },
        )


async def record_case_entities(
    session: AsyncSession, tenant_id: str, alert_ids: Sequence[uuid.UUID]
) -> None:
    if alert_ids:
        await session.execute(RECORD_CASE_ENTITIES, {"tenant": tenant_id, "ids": list(alert_ids)})


async def insert_events(
    session: AsyncSession, events: Sequence[dict[str, Any]], outbox: Sequence[dict[str, Any]]
) -> None:
    if events:
        await session.execute(insert(CaseEvent), list(events))
    if outbox:
        for parameters in INSERT_OUTBOX.parameter_chunks(outbox):
            await session.execute(INSERT_OUTBOX.statement, parameters)


async def last_event_hashes(
    session: AsyncSession, tenant_id: str, case_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """The newest audit hash of each case. Callers hold the cases' row locks, so no other
    writer can append between this read and their insert."""
    result = await session.execute(
        text(
            "SELECT DISTINCT ON (case_id) case_id, hash FROM case_events "
            "WHERE tenant_id = :tenant AND case_id = ANY(:ids) ORDER BY case_id, seq DESC"
        ),
        {"tenant": tenant_id, "ids": list(set(case_ids))},
    )
    return {row.case_id: row.hash for row in result}


async def insert_note(session: AsyncSession, values: dict[str, Any]) -> CaseNote | None:
    statement = (
        insert(CaseNote)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["tenant_id", "idempotency_key"])
        .returning(CaseNote)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def find_note_by_key(session: AsyncSession, tenant_id: str, key: str) -> CaseNote | None:
    statement = select(CaseNote).where(
        CaseNote.tenant_id == tenant_id, CaseNote.idempotency_key == key
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def latest_policy(session: AsyncSession, tenant_id: str) -> TenantCasePolicy | None:
    statement = (
        select(TenantCasePolicy)
        .where(TenantCasePolicy.tenant_id == tenant_id)
        .order_by(col(TenantCasePolicy.version).desc())
        .limit(1)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def insert_policy(
    session: AsyncSession, tenant_id: str, version: int, document: dict[str, Any], actor: str
) -> TenantCasePolicy | None:
    """None when that version exists already: someone else changed the policy first."""
    statement = (
        insert(TenantCasePolicy)
        .values(tenant_id=tenant_id, version=version, document=document, changed_by=actor)
        .on_conflict_do_nothing(index_elements=["tenant_id", "version"])
        .returning(TenantCasePolicy)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def insert_attachment(session: AsyncSession, values: dict[str, Any]) -> CaseAttachment:
    statement = insert(CaseAttachment).values(**values).returning(CaseAttachment)
    return (await session.execute(statement)).scalar_one()


async def lock_attachment(
    session: AsyncSession, tenant_id: str, case_id: uuid.UUID, attachment_id: uuid.UUID
) -> CaseAttachment | None:
    """The case's attachment under its row lock; removed ones too (the caller decides)."""
    statement = (
        select(CaseAttachment)
        .where(
            CaseAttachment.tenant_id == tenant_id,
            CaseAttachment.case_id == case_id,
            CaseAttachment.id == attachment_id,
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def mark_attachment_removed(
    session: AsyncSession, tenant_id: str, attachment_id: uuid.UUID, actor: str
) -> CaseAttachment:
    statement = (
        update(CaseAttachment)
        .where(col(CaseAttachment.tenant_id) == tenant_id, col(CaseAttachment.id) == attachment_id)
        .values(deleted_at=func.now(), deleted_by=actor)
        .returning(CaseAttachment)
    )
    return (await session.execute(statement)).scalar_one()
