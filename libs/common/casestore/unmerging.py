"""Undoing a merge, inside the caller's transaction: the merged case gets back what the
merge recorded in `case_merges` (alerts, notes, tasks, attachments, grouping slots and its
old status), as far as it is still on the target.

Locks in the order every writer takes them, as a merge does (merging.py): the group
keys' advisory locks, then the case rows by ascending id."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.casestore import move_repository as moves
from libs.common.casestore import repository, tasks
from libs.common.casestore.events import event_base, record_events
from libs.common.casestore.group_locks import lock_group_keys
from libs.common.casestore.merging import RESTORED_COLUMNS
from libs.common.contracts.cases import (
    CaseAlertRemovedV1,
    CaseEventV1,
    CaseStatus,
    CaseUnmergedV1,
)
from libs.common.db.models import Case, CaseMerge
from libs.common.errors import Conflict, NotFound


@dataclass
class UnmergeOutcome:
    case: Case
    target: Case
    alert_ids: list[uuid.UUID] = field(default_factory=list)
    note_ids: list[uuid.UUID] = field(default_factory=list)
    group_keys: list[str] = field(default_factory=list)
    task_ids: list[uuid.UUID] = field(default_factory=list)
    attachment_ids: list[uuid.UUID] = field(default_factory=list)


async def unmerge_case(
    session: AsyncSession, source: str, tenant_id: str, case_id: uuid.UUID, actor: str
) -> UnmergeOutcome:
    merge = await _merge_of(session, tenant_id, case_id)
    record = merge.moved
    keys = [slot["group_key"] for slot in record["slots"]]
    await lock_group_keys(session, tenant_id, keys)
    locked = await repository.lock_cases(session, tenant_id, [case_id, merge.target_case_id])
    current = await moves.active_merge(session, tenant_id, case_id)
    if current is None or current.id != merge.id:
        raise Conflict("the case's merge changed meanwhile; try again", case_id=str(case_id))
    case, target = locked[case_id], locked[merge.target_case_id]
    alert_ids = [uuid.UUID(a) for a in record["alert_ids"]]
    _check_restorable(
        case, target, alert_ids, await moves.alert_case_ids(session, tenant_id, alert_ids)
    )
    now = datetime.now(UTC)
    move = {"action": "unmerge", "to_case_id": str(case_id), "by": actor, "at": now.isoformat()}
    alerts = await moves.move_alerts_by_id(session, tenant_id, alert_ids, target.id, case_id, move)
    note_ids = [uuid.UUID(n) for n in record["note_ids"]]
    notes = await moves.move_case_rows(
        session, "case_notes", tenant_id, [target.id], case_id, note_ids
    )
    # Merges recorded before tasks existed have no task_ids.
    task_ids = [uuid.UUID(t) for t in record.get("task_ids", [])]
    restored_tasks = await tasks.restore_tasks(session, tenant_id, task_ids, target.id, case_id)
    # Likewise attachment_ids; those removed on the target since stay with its timeline.
    attachment_ids = [uuid.UUID(a) for a in record.get("attachment_ids", [])]
    attachments = await moves.move_case_rows(
        session, "case_attachments", tenant_id, [target.id], case_id, attachment_ids
    )
    restored_keys = [
        slot["group_key"]
        for slot in record["slots"]
        if await moves.restore_slot(session, tenant_id, _slot(slot, case_id), target.id)
    ]
    previous = record["previous"]
    span = await moves.alert_span(session, tenant_id, case_id)
    values = {
        **{column: _from_json(column, previous[column]) for column in RESTORED_COLUMNS},
        "merged_into": None,
        "alert_count": span.count,
    }
    restored = await repository.update_case(session, tenant_id, case_id, values)
    left = await moves.alert_span(session, tenant_id, target.id)
    target = await repository.update_case(
        session,
        tenant_id,
        target.id,
        {"alert_count": left.count, "first_event_at": left.first, "last_event_at": left.last},
    )
    await moves.close_merge(session, tenant_id, merge.id, actor)
    outcome = UnmergeOutcome(
        restored,
        target,
        [a for a, _ in alerts],
        [n for n, _ in notes],
        restored_keys,
        restored_tasks,
        [a for a, _ in attachments],
    )
    # What came back, as both events name it.
    moved_back: dict[str, Any] = {
        "alert_ids": outcome.alert_ids,
        "note_ids": outcome.note_ids,
        "task_ids": outcome.task_ids,
        "attachment_ids": outcome.attachment_ids,
    }
    events: list[CaseEventV1] = [
        CaseUnmergedV1(
            **event_base(restored, actor),
            merge_id=merge.id,
            from_case_id=target.id,
            to_status=CaseStatus(restored.status),
            **moved_back,
            alert_count=span.count,
        ),
        CaseAlertRemovedV1(
            **event_base(target, actor),
            **moved_back,
            alert_count=left.count,
            to_case_id=case_id,
            reason="unmerge",
        ),
    ]
    await record_events(session, source, events)
    return outcome


async def _merge_of(session: AsyncSession, tenant_id: str, case_id: uuid.UUID) -> CaseMerge:
    merge = await moves.active_merge(session, tenant_id, case_id)
    if merge is not None:
        return merge
    case = await repository.lock_case(session, tenant_id, case_id)
    if case is None:
        raise NotFound("case not found", case_id=str(case_id))
    raise Conflict(
        f"case #{case.number} is not merged into another case",
        case_id=str(case_id),
        status=case.status,
    )


def _check_restorable(
    case: Case,
    target: Case,
    alert_ids: list[uuid.UUID],
    now_on: dict[uuid.UUID, uuid.UUID],
) -> None:
    if target.status == CaseStatus.MERGED:
        raise Conflict(
            f"case #{target.number}, which this case was merged into, was merged into "
            "another case since; unmerge that first",
            case_id=str(case.id),
            target_case_id=str(target.id),
            target_merged_into=str(target.merged_into),
        )
    gone = sorted(str(a) for a in alert_ids if now_on.get(a) != target.id)
    if gone:
        raise Conflict(
            f"alerts this case gave to case #{target.number} have left it since (split off "
            "into other cases); the merge can no longer be undone as a whole",
            case_id=str(case.id),
            target_case_id=str(target.id),
            alert_ids=gone,
        )


def _slot(stored: dict[str, Any], case_id: uuid.UUID) -> moves.SlotRow:
    return moves.SlotRow(
        group_key=stored["group_key"],
        case_id=case_id,
        window_start=datetime.fromisoformat(stored["window_start"]),
        window_end=datetime.fromisoformat(stored["window_end"]),
    )


def _from_json(column: str, value: Any) -> Any:
    if column == "status" or value is None:
        return value
    return datetime.fromisoformat(value)
