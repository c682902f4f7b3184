"""Merging cases into a target, inside the caller's transaction.

A merge moves the sources' alerts, notes, tasks and attachments to the target (the tasks
after its own, within the task limit; the attachments not removed, their objects staying
under their keys), points the sources' grouping slots at it (so alerting keeps
growing the surviving case), and sets each source to `merged`. What moved is kept in
`case_merges`, which is what an unmerge (unmerging.py) restores.

Locks, in the order every writer takes them: the group keys' advisory locks (as
alerting does), then the case rows by ascending id."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.casestore import move_repository as moves
from libs.common.casestore import repository, tasks
from libs.common.casestore.events import event_base, record_events
from libs.common.casestore.group_locks import lock_group_keys
from libs.common.casestore.lifecycle import check_transition, moved_timestamps, workflow_of
from libs.common.casestore.policy import load_policy
from libs.common.contracts.cases import (
    CaseEventV1,
    CaseMergedFromV1,
    CaseMergedIntoV1,
    CaseStatus,
)
from libs.common.contracts.detections import Severity
from libs.common.db.models import Case
from libs.common.errors import Conflict, IllegalTransition, InvalidInput, NotFound

MAX_MERGE_SOURCES = 20
# The source's columns a merge changes and an unmerge puts back.
RESTORED_COLUMNS = ("status", "acknowledged_at", "resolved_at", "closed_at")


@dataclass
class MergeOutcome:
    target: Case
    sources: list[Case] = field(default_factory=list)
    alert_ids: list[uuid.UUID] = field(default_factory=list)
    note_ids: list[uuid.UUID] = field(default_factory=list)
    group_keys: list[str] = field(default_factory=list)
    task_ids: list[uuid.UUID] = field(default_factory=list)
    attachment_ids: list[uuid.UUID] = field(default_factory=list)


def check_merge_request(target_id: uuid.UUID, source_ids: Sequence[uuid.UUID]) -> None:
    if not source_ids:
        raise InvalidInput("name at least one case to merge")
    if len(source_ids) > MAX_MERGE_SOURCES:
        raise InvalidInput(
            f"at most {MAX_MERGE_SOURCES} cases per merge",
            limit=MAX_MERGE_SOURCES,
            given=len(source_ids),
        )
    if target_id in source_ids:
        raise InvalidInput("a case cannot be merged into itself", case_id=str(target_id))
    repeated = sorted({str(i) for i in source_ids if source_ids.count(i) > 1})
    if repeated:
        raise InvalidInput("a case is named more than once", case_ids=repeated)


async def merge_cases(
    session: AsyncSession,
    source: str,
    tenant_id: str,
    target_id: uuid.UUID,
    source_ids: Sequence[uuid.UUID],
    actor: str,
) -> MergeOutcome:
    check_merge_request(target_id, source_ids)
    # Only alerting adds slots, and only for keys it holds locked and for cases it opens,
    # so no new slot can point at a source between this read and the locks.
    keys = [slot.group_key for slot in await moves.slots_of(session, tenant_id, source_ids)]
    await lock_group_keys(session, tenant_id, keys)
    target, sources = await _lock_merge_cases(session, tenant_id, target_id, source_ids)
    await tasks.check_merge_fits(session, tenant_id, target_id, source_ids)
    slots = [s for s in await moves.slots_of(session, tenant_id, source_ids) if s.group_key in keys]
    now = datetime.now(UTC)
    move = {"action": "merge", "to_case_id": str(target_id), "by": actor, "at": now.isoformat()}
    # (id, the source it left) of each moved row, per kind, named as the merge record's.
    moved: dict[str, list[tuple[uuid.UUID, uuid.UUID]]] = {
        "alert_ids": await moves.move_alerts_of_cases(
            session, tenant_id, source_ids, target_id, move
        ),
        "note_ids": await moves.move_case_rows(
            session, "case_notes", tenant_id, source_ids, target_id
        ),
        "task_ids": await tasks.move_tasks_for_merge(session, tenant_id, source_ids, target_id),
        "attachment_ids": await moves.move_case_rows(
            session, "case_attachments", tenant_id, source_ids, target_id
        ),
    }
    ids = {kind: [i for i, _ in rows] for kind, rows in moved.items()}
    outcome = MergeOutcome(
        target,
        alert_ids=ids["alert_ids"],
        note_ids=ids["note_ids"],
        group_keys=await moves.repoint_slots(session, tenant_id, keys, source_ids, target_id),
        task_ids=ids["task_ids"],
        attachment_ids=ids["attachment_ids"],
    )
    events: list[CaseEventV1] = []
    merge_rows: list[dict[str, Any]] = []
    merge_ids = {case.id: uuid.uuid4() for case in sources}
    for case in sources:
        merge_id = merge_ids[case.id]
        record = _merge_record(case, moved, [s for s in slots if s.case_id == case.id])
        merge_rows.append(
            {
                "id": merge_id,
                "tenant_id": tenant_id,
                "source_case_id": case.id,
                "target_case_id": target_id,
                "moved": record,
                "merged_by": actor,
            }
        )
        previous = CaseStatus(case.status)
        values = {
            "status": CaseStatus.MERGED.value,
            "merged_into": target_id,
            "alert_count": 0,
            **moved_timestamps(workflow_of(case.workflow), case, previous, CaseStatus.MERGED, now),
        }
        merged = await repository.update_case(session, tenant_id, case.id, values)
        outcome.sources.append(merged)
        events.append(
            CaseMergedIntoV1(
                **event_base(merged, actor),
                merge_id=merge_id,
                target_case_id=target_id,
                target_case_number=target.number,
                from_status=previous,
                alert_ids=record["alert_ids"],
                note_ids=record["note_ids"],
                group_keys=[slot["group_key"] for slot in record["slots"]],
                task_ids=record["task_ids"],
                attachment_ids=record["attachment_ids"],
            )
        )
    await moves.insert_merges(session, merge_rows)
    outcome.target, target_event = await _grow_target(
        session, target, sources, list(merge_ids.values()), outcome, actor
    )
    await record_events(session, source, [*events, target_event])
    return outcome


async def _lock_merge_cases(
    session: AsyncSession, tenant_id: str, target_id: uuid.UUID, source_ids: Sequence[uuid.UUID]
) -> tuple[Case, list[Case]]:
    locked = await repository.lock_cases(session, tenant_id, [target_id, *source_ids])
    missing = [str(i) for i in [target_id, *source_ids] if i not in locked]
    if missing:
        raise NotFound("case not found", case_ids=missing)
    target = locked[target_id]
    if target.status == CaseStatus.MERGED:
        raise Conflict(
            f"case #{target.number} is itself merged into another case; merge into that one",
            case_id=str(target_id),
            merged_into=str(target.merged_into),
        )
    sources = [locked[i] for i in source_ids]
    for case in sources:
        try:
            check_transition(workflow_of(case.workflow), CaseStatus(case.status), CaseStatus.MERGED)
        except IllegalTransition as refused:
            raise IllegalTransition(
                f"case #{case.number} cannot be merged from {case.status}",
                case_id=str(case.id),
                **refused.details,
            ) from refused
    return target, sources


def _merge_record(
    case: Case, moved: dict[str, list[tuple[uuid.UUID, uuid.UUID]]], slots: list[moves.SlotRow]
) -> dict[str, Any]:
    return {
        "previous": {column: _jsonable(getattr(case, column)) for column in RESTORED_COLUMNS},
        # Each kind's ids in the order moved (tasks: the source's task order, which an
        # unmerge gives them back in).
        **{kind: [str(i) for i, left in rows if left == case.id] for kind, rows in moved.items()},
        "slots": [
            {
                "group_key": s.group_key,
                "window_start": s.window_start.isoformat(),
                "window_end": s.window_end.isoformat(),
            }
            for s in slots
        ],
    }


async def _grow_target(
    session: AsyncSession,
    target: Case,
    sources: list[Case],
    merge_ids: list[uuid.UUID],
    outcome: MergeOutcome,
    actor: str,
) -> tuple[Case, CaseMergedFromV1]:
    """The target's counts and event-time span from the alerts it now holds; its severity
    rises to the most severe source's (a merge never lowers it), moving its SLA due times."""
    span = await moves.alert_span(session, target.tenant_id, target.id)
    old = Severity(target.severity)
    severity = max([old, *(Severity(s.severity) for s in sources)], key=lambda s: s.rank)
    values: dict[str, Any] = {
        "alert_count": span.count,
        "first_event_at": span.first,
        "last_event_at": span.last,
        "severity": severity.value,
    }
    if severity is not old and target.ack_due_at is not None:  # cases from before SLAs: none
        policy = (await load_policy(session, target.tenant_id)).policy
        values["ack_due_at"], values["resolve_due_at"] = policy.due_times(
            target.created_at, severity
        )
    grown = await repository.update_case(session, target.tenant_id, target.id, values)
    event = CaseMergedFromV1(
        **event_base(grown, actor),
        source_case_ids=[s.id for s in sources],
        merge_ids=merge_ids,
        alert_ids=outcome.alert_ids,
        note_ids=outcome.note_ids,
        task_ids=outcome.task_ids,
        attachment_ids=outcome.attachment_ids,
        alert_count=span.count,
        from_severity=old,
        to_severity=severity,
        ack_due_at=grown.ack_due_at,
        resolve_due_at=grown.resolve_due_at,
    )
    return grown, event


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value
