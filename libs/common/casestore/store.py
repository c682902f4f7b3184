"""CaseStore: open cases, attach alerts, change status, add notes and attachments, delete
and restore; its `tasks` add, change and remove case tasks (casestore/tasks.py).

Each operation runs inside the caller's transaction (the store never commits) and writes
the change, one audit event and one outbox row per change, so no writer can skip them."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.casestore import attachments, field_updates, notices, preservation, repository
from libs.common.casestore.attachments import NewAttachment
from libs.common.casestore.batch import (
    CaseGrowth,
    CaseOpening,
    GroupingWrite,
    NewAlert,
    NewCase,
    apply_grouping,
)
from libs.common.casestore.changes import CaseChange, field_values, moves_status
from libs.common.casestore.custom_values import (
    CheckedCase,
    each_with_checked_custom_fields,
)
from libs.common.casestore.events import event_base, record_events
from libs.common.casestore.lifecycle import (
    check_required_fields,
    check_transition,
    is_reopen,
    moved_timestamps,
    workflow_of,
)
from libs.common.casestore.merging import MergeOutcome, merge_cases
from libs.common.casestore.numbers import CaseNumbers
from libs.common.casestore.purging import PurgeOutcome, RetentionRule, purge_case
from libs.common.casestore.splitting import SplitOutcome, split_case
from libs.common.casestore.tasks import CaseTasks, NewTask
from libs.common.casestore.unmerging import UnmergeOutcome, unmerge_case
from libs.common.contracts.cases import (
    CaseReopenedV1,
    CaseStatus,
    CaseStatusChangedV1,
)
from libs.common.db.models import Case, CaseAttachment, CaseNote
from libs.common.errors import DomainError, InvalidInput, MissingRequiredFields

__all__ = [
    "CaseGrowth",
    "CaseOpening",
    "CaseStore",
    "CheckedCase",
    "GroupingWrite",
    "NewAlert",
    "NewAttachment",
    "NewCase",
    "NewTask",
]


class CaseStore:
    def __init__(
        self, source: str, publish_alerts_v1: bool = True, numbers: CaseNumbers | None = None
    ) -> None:
        # CloudEvents `source` of every event this writer produces, e.g. "casestream/cases".
        self.source = source
        # Whether stored alerts with a case also go out on the deprecated alerts.v1
        # (settings.alert_topics.publish_v1).
        self.publish_alerts_v1 = publish_alerts_v1
        # Where apply_grouping takes case numbers: None, inside its transaction; alerting
        # takes them in a transaction of their own (casestore/numbers.py).
        self.numbers = numbers
        self.tasks = CaseTasks(source)

    async def apply_grouping(
        self,
        session: AsyncSession,
        tenant_id: str,
        openings: Sequence[CaseOpening],
        growths: Sequence[CaseGrowth],
        actor: str,
        uncased: Sequence[NewAlert] = (),
    ) -> GroupingWrite:
        """Open and grow many cases in one go (alerting's batches); `uncased` alerts are
        stored without a case (no case changed, so no case event)."""
        return await apply_grouping(
            session,
            self.source,
            tenant_id,
            openings,
            growths,
            actor,
            uncased,
            self.publish_alerts_v1,
            self.numbers,
        )

    async def open_case(
        self, session: AsyncSession, new: NewCase, alerts: Sequence[NewAlert], actor: str
    ) -> tuple[Case, list[uuid.UUID]]:
        """Open one case by hand (with its custom fields checked) and its alerts."""
        [checked] = await self.check_openings(session, new.tenant_id, [new])
        if isinstance(checked, DomainError):
            raise checked
        written = await self.apply_grouping(
            session, new.tenant_id, [CaseOpening(checked, alerts)], [], actor
        )
        return written.opened[0], [a.id for a in alerts if a.id in written.inserted]

    async def check_openings(
        self, session: AsyncSession, tenant_id: str, news: Sequence[NewCase]
    ) -> list[CheckedCase | DomainError]:
        """Cases to open by hand, each with its custom fields checked or its own error."""
        return await each_with_checked_custom_fields(session, tenant_id, news)

    async def open_checked_cases(
        self, session: AsyncSession, tenant_id: str, news: Sequence[CheckedCase], actor: str
    ) -> GroupingWrite:
        """Open many cases by hand in one go (concurrent creates committed together): the
        same rows and events as opening them one by one."""
        return await self.apply_grouping(
            session, tenant_id, [CaseOpening(new, []) for new in news], [], actor
        )

    async def attach_alerts(
        self,
        session: AsyncSession,
        tenant_id: str,
        case_id: uuid.UUID,
        alerts: Sequence[NewAlert],
        actor: str,
    ) -> list[uuid.UUID]:
        written = await self.apply_grouping(
            session, tenant_id, [], [CaseGrowth(case_id, alerts)], actor
        )
        return [a.id for a in alerts if a.id in written.inserted]

    async def change_status(
        self,
        session: AsyncSession,
        tenant_id: str,
        case_id: uuid.UUID,
        target: CaseStatus,
        actor: str,
        reason: str | None = None,
    ) -> Case:
        """Move a case through its workflow; a move out of resolved/closed is a reopen."""
        if target is CaseStatus.MERGED:
            # A merged case records where it went and what moved, so it can be undone.
            raise InvalidInput(
                "a case becomes merged by merging it: POST /api/v1/cases/{target}/merge",
                requested=target.value,
            )
        case = await self._lock(session, tenant_id, case_id)
        return await self._move(session, case, target, actor, reason)

    async def auto_close(
        self,
        session: AsyncSession,
        tenant_id: str,
        case_id: uuid.UUID,
        resolved_before: datetime,
        actor: str,
        reason: str,
    ) -> bool:
        """Close the case if, under its row lock, it is still resolved since before
        `resolved_before` and has what closing needs; False (nothing written) otherwise."""
        case = await self._lock(session, tenant_id, case_id, deleted=True)
        if case.deleted_at is not None:
            return False  # deleted meanwhile
        if case.status != CaseStatus.RESOLVED or case.resolved_at is None:
            return False  # reopened or closed meanwhile
        if case.resolved_at > resolved_before:
            return False
        try:
            check_required_fields(workflow_of(case.workflow), CaseStatus.CLOSED, case)
        except MissingRequiredFields:
            return False  # e.g. an incident without a conclusion: a person must close it
        await self._move(session, case, CaseStatus.CLOSED, actor, reason)
        return True

    async def _move(
        self, session: AsyncSession, case: Case, target: CaseStatus, actor: str, reason: str | None
    ) -> Case:
        current = CaseStatus(case.status)
        workflow = workflow_of(case.workflow)
        check_transition(workflow, current, target)
        check_required_fields(workflow, target, case)
        now = datetime.now(UTC)
        values = {"status": target.value, **moved_timestamps(workflow, case, current, target, now)}
        case = await repository.update_case(session, case.tenant_id, case.id, values)
        moved = CaseReopenedV1 if is_reopen(current, target) else CaseStatusChangedV1
        event = moved(
            **event_base(case, actor), from_status=current, to_status=target, reason=reason
        )
        await record_events(session, self.source, [event])
        return case

    async def merge(
        self,
        session: AsyncSession,
        tenant_id: str,
        target_id: uuid.UUID,
        source_ids: Sequence[uuid.UUID],
        actor: str,
    ) -> MergeOutcome:
        """Merge the sources into the target (their alerts, notes, tasks, attachments, slots)."""
        return await merge_cases(session, self.source, tenant_id, target_id, source_ids, actor)

    async def unmerge(
        self, session: AsyncSession, tenant_id: str, case_id: uuid.UUID, actor: str
    ) -> UnmergeOutcome:
        """Undo the merge of `case_id`: what it gave the target, its slots and status come back."""
        return await unmerge_case(session, self.source, tenant_id, case_id, actor)

    async def split(
        self,
        session: AsyncSession,
        tenant_id: str,
        case_id: uuid.UUID,
        alert_ids: Sequence[uuid.UUID],
        actor: str,
        title: str | None = None,
    ) -> SplitOutcome:
        """Move the chosen alerts out of the case into a new one."""
        return await split_case(session, self.source, tenant_id, case_id, alert_ids, actor, title)

    async def apply_change(
        self,
        session: AsyncSession,
        tenant_id: str,
        case_id: uuid.UUID,
        change: CaseChange,
        actor: str,
    ) -> list[str]:
        """Apply one bulk change to one case: fields first (a close may need the
        classification set in the same change), then the status. Returns what changed;
        empty when the case already was as asked (nothing written)."""
        case = await self._lock(session, tenant_id, case_id)
        values = field_values(case, change)
        status_moves = moves_status(case, change)
        if values:
            await self.update_fields(session, tenant_id, case_id, values, actor)
        if status_moves:
            assert change.status is not None
            await self.change_status(
                session, tenant_id, case_id, change.status, actor, change.reason
            )
        return sorted(values) + (["status"] if status_moves else [])

    async def update_fields(
        self,
        session: AsyncSession,
        tenant_id: str,
        case_id: uuid.UUID,
        requested: Mapping[str, Any],
        actor: str,
    ) -> Case:
        """Change any editable fields; one audit event per field whose value changed.
        `custom_fields` is a partial map (None removes a value): one event per changed key."""
        case = await self._lock(session, tenant_id, case_id)
        return await field_updates.update_fields(session, self.source, case, requested, actor)

    async def record_sla_notices(
        self,
        session: AsyncSession,
        tenant_id: str,
        case_id: uuid.UUID,
        now: datetime,
        pre_breach_ratio: float,
        actor: str,
    ) -> int:
        return await notices.record_sla_notices(
            session, self.source, tenant_id, case_id, now, pre_breach_ratio, actor
        )

    async def add_note(
        self,
        session: AsyncSession,
        tenant_id: str,
        case_id: uuid.UUID,
        author: str,
        body: str,
        idempotency_key: str | None = None,
    ) -> tuple[CaseNote, bool]:
        """Returns the note and whether it was created now (False: an idempotent replay)."""
        return await notices.add_note(
            session, self.source, tenant_id, case_id, author, body, idempotency_key
        )

    async def add_attachment(
        self,
        session: AsyncSession,
        tenant_id: str,
        case_id: uuid.UUID,
        new: NewAttachment,
        actor: str,
    ) -> CaseAttachment:
        """Record a file already in the object store (a deleted case is not found)."""
        case = await self._lock(session, tenant_id, case_id)
        return await attachments.add_attachment(session, self.source, case, new, actor)

    async def remove_attachment(
        self,
        session: AsyncSession,
        tenant_id: str,
        case_id: uuid.UUID,
        attachment_id: uuid.UUID,
        actor: str,
        reason: str | None = None,
    ) -> CaseAttachment:
        case = await self._lock(session, tenant_id, case_id)
        return await attachments.remove_attachment(
            session, self.source, case, attachment_id, actor, reason
        )

    async def delete_case(
        self,
        session: AsyncSession,
        tenant_id: str,
        case_id: uuid.UUID,
        actor: str,
        reason: str | None = None,
    ) -> Case:
        """Soft delete: the case keeps its status, alerts and audit trail, and is restored
        as it was. A deleted case is not found by any other store operation. A case on
        legal hold cannot be deleted (409 legal_hold_active)."""
        return await preservation.delete_case(
            session, self.source, tenant_id, case_id, actor, reason
        )

    async def restore_case(
        self,
        session: AsyncSession,
        tenant_id: str,
        case_id: uuid.UUID,
        actor: str,
        reason: str | None = None,
    ) -> Case:
        return await preservation.restore_case(
            session, self.source, tenant_id, case_id, actor, reason
        )

    async def set_legal_hold(
        self, session: AsyncSession, tenant_id: str, case_id: uuid.UUID, actor: str, reason: str
    ) -> Case:
        """Put the case on legal hold: neither deletion nor retention may remove it."""
        return await preservation.set_legal_hold(
            session, self.source, tenant_id, case_id, actor, reason
        )

    async def release_legal_hold(
        self, session: AsyncSession, tenant_id: str, case_id: uuid.UUID, actor: str, reason: str
    ) -> Case:
        return await preservation.release_legal_hold(
            session, self.source, tenant_id, case_id, actor, reason
        )

    async def purge(
        self,
        session: AsyncSession,
        tenant_id: str,
        case_id: uuid.UUID,
        rule: RetentionRule,
        actor: str,
    ) -> PurgeOutcome:
        """Delete a case that retention made due, with the cases merged into it, for
        good: tombstones in case_purges and `case.purged` messages remain."""
        return await purge_case(session, self.source, tenant_id, case_id, rule, actor)

    async def _lock(
        self, session: AsyncSession, tenant_id: str, case_id: uuid.UUID, deleted: bool = False
    ) -> Case:
        """The case under its row lock; a deleted case is not found unless `deleted`."""
        return await preservation.locked_case(session, tenant_id, case_id, deleted)
