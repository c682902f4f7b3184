"""SQL for moving alerts, notes, attachments and grouping slots between cases (merge,
unmerge, split). Every statement filters on the tenant."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import TextClause, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from libs.common.casestore.repository import record_case_entities
from libs.common.db.models import CaseMerge


@dataclass(frozen=True)
class SlotRow:
    group_key: str
    case_id: uuid.UUID
    window_start: datetime
    window_end: datetime


@dataclass(frozen=True)
class AlertRow:
    id: uuid.UUID
    case_id: uuid.UUID
    title: str
    severity: str
    rule_id: str
    rule_name: str
    host: str | None
    effective_time: datetime


@dataclass(frozen=True)
class AlertSpan:
    count: int
    first: datetime | None
    last: datetime | None


async def slots_of(
    session: AsyncSession, tenant_id: str, case_ids: Sequence[uuid.UUID]
) -> list[SlotRow]:
    result = await session.execute(
        text(
            "SELECT group_key, case_id, window_start, window_end FROM grouping_slots "
            "WHERE tenant_id = :tenant AND case_id = ANY(:ids) ORDER BY group_key"
        ),
        {"tenant": tenant_id, "ids": list(case_ids)},
    )
    return [SlotRow(*row) for row in result]


async def repoint_slots(
    session: AsyncSession,
    tenant_id: str,
    keys: Sequence[str],
    from_case_ids: Sequence[uuid.UUID],
    to_case_id: uuid.UUID,
) -> list[str]:
    """Point the slots of `keys` that still point at one of `from_case_ids` at
    `to_case_id`; returns the keys moved. Callers hold the keys' advisory locks."""
    result = await session.execute(
        text(
            "UPDATE grouping_slots SET case_id = :to WHERE tenant_id = :tenant "
            "AND group_key = ANY(CAST(:keys AS text[])) AND case_id = ANY(:from) "
            "RETURNING group_key"
        ),
        {"tenant": tenant_id, "keys": list(keys), "from": list(from_case_ids), "to": to_case_id},
    )
    return sorted(result.scalars())


async def restore_slot(
    session: AsyncSession, tenant_id: str, slot: SlotRow, now_at: uuid.UUID
) -> bool:
    """Give a slot back to `slot.case_id` with its old window, if it still points at
    `now_at` (alerting may have moved it on to a newer case meanwhile)."""
    result = await session.execute(
        text(
            "UPDATE grouping_slots SET case_id = :case_id, window_start = :start, "
            "window_end = :end WHERE tenant_id = :tenant AND group_key = :key "
            "AND case_id = :now_at RETURNING group_key"
        ),
        {
            "tenant": tenant_id,
            "key": slot.group_key,
            "case_id": slot.case_id,
            "start": slot.window_start,
            "end": slot.window_end,
            "now_at": now_at,
        },
    )
    return result.scalar_one_or_none() is not None


# Each moved alert keeps its grouping decision and gains one entry in grouping.moves.
_MOVE_ALERTS = (
    "WITH chosen AS (SELECT id, case_id FROM alerts WHERE tenant_id = :tenant AND {where} "
    "FOR UPDATE) "
    "UPDATE alerts a SET case_id = :to, grouping = coalesce(a.grouping, '{{}}'::jsonb) "
    "|| jsonb_build_object('moves', coalesce(a.grouping->'moves', '[]'::jsonb) "
    "|| jsonb_build_array(CAST(:move AS jsonb) "
    "|| jsonb_build_object('from_case_id', chosen.case_id::text))) "
    "FROM chosen WHERE a.id = chosen.id AND a.tenant_id = :tenant "
    "RETURNING a.id, chosen.case_id"
)


async def move_alerts_of_cases(
    session: AsyncSession,
    tenant_id: str,
    from_case_ids: Sequence[uuid.UUID],
    to_case_id: uuid.UUID,
    move: dict[str, Any],
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """Move every alert of `from_case_ids`; returns (alert id, the case it left)."""
    statement = text(_MOVE_ALERTS.format(where="case_id = ANY(:from)"))
    parameters = {"from": list(from_case_ids)}
    return await _move_alerts(session, tenant_id, statement, parameters, to_case_id, move)


async def move_alerts_by_id(
    session: AsyncSession,
    tenant_id: str,
    alert_ids: Sequence[uuid.UUID],
    from_case_id: uuid.UUID,
    to_case_id: uuid.UUID,
    move: dict[str, Any],
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """Move those of `alert_ids` that are on `from_case_id`."""
    statement = text(_MOVE_ALERTS.format(where="case_id = :from AND id = ANY(:ids)"))
    parameters = {"from": from_case_id, "ids": list(alert_ids)}
    return await _move_alerts(session, tenant_id, statement, parameters, to_case_id, move)


async def _move_alerts(
    session: AsyncSession,
    tenant_id: str,
    statement: Any,
    parameters: dict[str, Any],
    to_case_id: uuid.UUID,
    move: dict[str, Any],
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    result = await session.execute(
        statement,
        {**parameters, "tenant": tenant_id, "to": to_case_id, "move": json.dumps(move)},
    )
    moved = sorted(((row[0], row[1]) for row in result), key=lambda pair: str(pair[0]))
    # The entity filter must find the case the alerts are on now. The case they left
    # keeps its rows: a merged case is done, and a split source still matched them.
    await record_case_entities(session, tenant_id, [alert_id for alert_id, _ in moved])
    return moved


# Notes and attachments move as they are: only their case changes. Removed attachments
# stay where their removal was recorded.
_MOVE_ROWS = (
    "WITH chosen AS (SELECT id, case_id FROM {table} WHERE tenant_id = :tenant "
    "AND case_id = ANY(:from) AND (CAST(:every AS boolean) OR id = ANY(:ids)){live} "
    "FOR UPDATE) "
    "UPDATE {table} r SET case_id = :to FROM chosen "
    "WHERE r.id = chosen.id AND r.tenant_id = :tenant RETURNING r.id, chosen.case_id"
)
MovedRows = Literal["case_notes", "case_attachments"]
_MOVES: dict[MovedRows, TextClause] = {
    "case_notes": text(_MOVE_ROWS.format(table="case_notes", live="")),
    "case_attachments": text(
        _MOVE_ROWS.format(table="case_attachments", live=" AND deleted_at IS NULL")
    ),
}


async def move_case_rows(
    session: AsyncSession,
    table: MovedRows,
    tenant_id: str,
    from_case_ids: Sequence[uuid.UUID],
    to_case_id: uuid.UUID,
    ids: Sequence[uuid.UUID] | None = None,
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """Move the notes or the live (not removed) attachments of `from_case_ids` (only
    `ids` when given); returns (row id, the case it left). An attachment's object stays
    under its key: every read finds it by the row's `object_key`."""
    result = await session.execute(
        _MOVES[table],
        {
            "tenant": tenant_id,
            "from": list(from_case_ids),
            "to": to_case_id,
            "ids": list(ids or []),
            "every": ids is None,
        },
    )
    return sorted(((row[0], row[1]) for row in result), key=lambda pair: str(pair[0]))


async def alerts_by_id(
    session: AsyncSession, tenant_id: str, alert_ids: Sequence[uuid.UUID]
) -> list[AlertRow]:
    result = await session.execute(
        text(
            "SELECT id, case_id, title, severity, rule_id, rule_name, host, effective_time "
            "FROM alerts WHERE tenant_id = :tenant AND id = ANY(:ids) "
            "ORDER BY effective_time, id"
        ),
        {"tenant": tenant_id, "ids": list(alert_ids)},
    )
    return [AlertRow(*row) for row in result]


async def alert_case_ids(
    session: AsyncSession, tenant_id: str, alert_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, uuid.UUID]:
    """Which case each of `alert_ids` is on now."""
    result = await session.execute(
        text("SELECT id, case_id FROM alerts WHERE tenant_id = :tenant AND id = ANY(:ids)"),
        {"tenant": tenant_id, "ids": list(alert_ids)},
    )
    return {row[0]: row[1] for row in result}


async def alert_span(session: AsyncSession, tenant_id: str, case_id: uuid.UUID) -> AlertSpan:
    """How many alerts the case holds and the event-time span they cover."""
    row = (
        await session.execute(
            text(
                "SELECT count(*), min(effective_time), max(effective_time) FROM alerts "
                "WHERE tenant_id = :tenant AND case_id = :case"
            ),
            {"tenant": tenant_id, "case": case_id},
        )
    ).one()
    return AlertSpan(int(row[0]), row[1], row[2])


async def insert_merges(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert(CaseMerge), list(rows))


async def active_merge(
    session: AsyncSession, tenant_id: str, source_case_id: uuid.UUID
) -> CaseMerge | None:
    statement = (
        select(CaseMerge)
        .where(
            CaseMerge.tenant_id == tenant_id,
            CaseMerge.source_case_id == source_case_id,
            col(CaseMerge.unmerged_at).is_(None),
        )
        .with_for_update()
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def close_merge(
    session: AsyncSession, tenant_id: str, merge_id: uuid.UUID, actor: str
) -> None:
    await session.execute(
        text(
            "UPDATE case_merges SET unmerged_at = now(), unmerged_by = :actor "
            "WHERE tenant_id = :tenant AND id = :id"
        ),
        {"tenant": tenant_id, "id": merge_id, "actor": actor},
    )
