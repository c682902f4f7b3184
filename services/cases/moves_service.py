"""Rules of moving alerts between cases for the API: merge, unmerge, split. Every write
goes through the case store in the request's transaction (this module never commits)."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.casestore.store import CaseStore
from libs.common.http import Principal
from libs.common.logging import get_logger
from services.cases.moves_schemas import MergeIn, MergeOut, SplitIn, SplitOut, UnmergeOut
from services.cases.schemas import CaseSummary

log = get_logger(__name__)


class CaseMoveService:
    def __init__(self, store: CaseStore) -> None:
        self._store = store

    async def merge(
        self, session: AsyncSession, caller: Principal, target_id: uuid.UUID, body: MergeIn
    ) -> MergeOut:
        merged = await self._store.merge(
            session, caller.tenant_id, target_id, body.source_ids, caller.name
        )
        log.info(
            "case.merged",
            tenant_id=caller.tenant_id,
            target_case_id=str(target_id),
            source_case_ids=[str(i) for i in body.source_ids],
            alerts=len(merged.alert_ids),
        )
        return MergeOut(
            target=CaseSummary.model_validate(merged.target),
            sources=[CaseSummary.model_validate(case) for case in merged.sources],
            moved_alert_ids=merged.alert_ids,
            moved_note_ids=merged.note_ids,
            moved_task_ids=merged.task_ids,
            moved_attachment_ids=merged.attachment_ids,
            moved_group_keys=merged.group_keys,
        )

    async def unmerge(
        self, session: AsyncSession, caller: Principal, case_id: uuid.UUID
    ) -> UnmergeOut:
        restored = await self._store.unmerge(session, caller.tenant_id, case_id, caller.name)
        log.info(
            "case.unmerged",
            tenant_id=caller.tenant_id,
            case_id=str(case_id),
            target_case_id=str(restored.target.id),
            alerts=len(restored.alert_ids),
        )
        return UnmergeOut(
            case=CaseSummary.model_validate(restored.case),
            target=CaseSummary.model_validate(restored.target),
            restored_alert_ids=restored.alert_ids,
            restored_note_ids=restored.note_ids,
            restored_task_ids=restored.task_ids,
            restored_attachment_ids=restored.attachment_ids,
            restored_group_keys=restored.group_keys,
        )

    async def split(
        self, session: AsyncSession, caller: Principal, case_id: uuid.UUID, body: SplitIn
    ) -> SplitOut:
        split = await self._store.split(
            session, caller.tenant_id, case_id, body.alert_ids, caller.name, body.title
        )
        log.info(
            "case.split",
            tenant_id=caller.tenant_id,
            case_id=str(case_id),
            new_case_id=str(split.case.id),
            alerts=len(split.alert_ids),
        )
        return SplitOut(
            case=CaseSummary.model_validate(split.case),
            source=CaseSummary.model_validate(split.source),
            moved_alert_ids=split.alert_ids,
        )
