"""Rules of bulk case changes: resolving the selection to at most 200 cases, recording the
job, and applying the change to one case at a time through the case store.

A job runs in the background of the cases service (services/cases/bulk_runner.py), never
inline: a 200-case job is 200 transactions, too long for one request, and a job the same
code runs whatever its size is one path to test. Each case is its own transaction, so one
case's failure (a 409 illegal transition, say) is recorded on its item and the others go
on. A dry run applies each change inside a savepoint and rolls it back: the verdicts are
exactly what a real run would decide at that moment, and nothing is written."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.casestore.store import CaseStore
from libs.common.db.models import CaseBulkJob
from libs.common.errors import DomainError, InvalidInput, NotFound
from libs.common.http import Principal
from libs.common.logging import get_logger
from services.cases import bulk_repository as repository
from services.cases.bulk_schemas import (
    MAX_BULK_CASES,
    BulkChange,
    BulkIn,
    BulkItemOut,
    BulkJobOut,
    BulkProgress,
    JobStatus,
    Outcome,
)

log = get_logger(__name__)


class BulkJobService:
    def __init__(self, store: CaseStore) -> None:
        self._store = store

    async def create_job(
        self, session: AsyncSession, caller: Principal, body: BulkIn
    ) -> BulkJobOut:
        if body.ids is not None:
            case_ids = body.ids
        else:
            assert body.filter is not None  # BulkIn requires one of the two
            case_ids = await repository.matching_case_ids(
                session, caller.tenant_id, body.filter, MAX_BULK_CASES + 1
            )
            if len(case_ids) > MAX_BULK_CASES:
                raise InvalidInput(
                    f"the filter matches more than {MAX_BULK_CASES} cases; narrow it",
                    limit=MAX_BULK_CASES,
                )
        job = await repository.insert_job(
            session,
            {
                "tenant_id": caller.tenant_id,
                "created_by": caller.name,
                "dry_run": body.dry_run,
                "status": JobStatus.QUEUED.value,
                "request": body.model_dump(mode="json", exclude_unset=True),
                "total": len(case_ids),
            },
            case_ids,
        )
        log.info(
            "case.bulk_job_created",
            tenant_id=caller.tenant_id,
            job_id=str(job.id),
            cases=len(case_ids),
            dry_run=body.dry_run,
        )
        return await self.get_job(session, caller, job.id)

    async def get_job(
        self, session: AsyncSession, caller: Principal, job_id: uuid.UUID
    ) -> BulkJobOut:
        job = await repository.get_job(session, caller.tenant_id, job_id)
        if job is None:
            raise NotFound("bulk job not found", job_id=str(job_id))
        items = await repository.job_items(session, caller.tenant_id, job_id)
        counts = {outcome: sum(i.outcome == outcome for i in items) for outcome in Outcome}
        return BulkJobOut(
            id=job.id,
            status=JobStatus(job.status),
            dry_run=job.dry_run,
            created_by=job.created_by,
            created_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
            request=job.request,
            progress=BulkProgress(
                total=job.total,
                done=job.total - counts[Outcome.PENDING],
                changed=counts[Outcome.CHANGED],
                unchanged=counts[Outcome.UNCHANGED],
                failed=counts[Outcome.FAILED],
            ),
            items=[BulkItemOut.model_validate(item) for item in items],
        )

    async def run_item(
        self, session: AsyncSession, job: CaseBulkJob, item: repository.ItemKey
    ) -> Outcome:
        """Apply the job's change to the item's case and record the result on the item."""
        change = BulkChange.model_validate(job.request["change"]).to_case_change()
        savepoint = await session.begin_nested()
        try:
            changed = await self._store.apply_change(
                session, job.tenant_id, item.case_id, change, job.created_by
            )
        except DomainError as refused:
            await savepoint.rollback()
            error = {
                "code": refused.code,
                "status": refused.status_code,
                "message": refused.message,
            }
            await repository.finish_item(session, item, Outcome.FAILED, None, error)
            return Outcome.FAILED
        if job.dry_run:
            await savepoint.rollback()
        else:
            await savepoint.commit()
        outcome = Outcome.CHANGED if changed else Outcome.UNCHANGED
        await repository.finish_item(session, item, outcome, changed, None)
        return outcome
