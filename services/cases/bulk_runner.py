"""Runs bulk case jobs in the background of the cases service: one task per job, one
transaction per case. A job is started right after the request that created it commits,
and again at start-up if a previous process stopped before finishing it.

Several instances may run the same job: each case is claimed with SKIP LOCKED and only
while still pending, so every case is changed at most once."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable

from libs.common.db.engine import SessionFactory, transaction
from libs.common.db.models import CaseBulkJob
from libs.common.logging import get_logger
from services.cases import bulk_repository as repository
from services.cases.bulk_schemas import Outcome
from services.cases.bulk_service import BulkJobService

log = get_logger(__name__)


class BulkJobRunner:
    def __init__(
        self,
        sessions: SessionFactory,
        service: BulkJobService,
        *,
        on_changed: Callable[[], None] = lambda: None,
    ) -> None:
        self._sessions = sessions
        self._service = service
        self._on_changed = on_changed  # wakes the outbox relay after a commit
        self._tasks: dict[uuid.UUID, asyncio.Task[None]] = {}

    async def submit(self, job_id: uuid.UUID) -> None:
        """Start running the job in the background (async: it must run on the loop)."""
        if job_id not in self._tasks:
            task = asyncio.create_task(self._run_logged(job_id), name=f"bulk-job-{job_id}")
            self._tasks[job_id] = task
            task.add_done_callback(lambda _: self._tasks.pop(job_id, None))

    async def run(self, job_id: uuid.UUID) -> None:
        async with transaction(self._sessions) as session:
            job = await repository.start_job(session, job_id)
        if job is None:
            return  # finished already
        log.info("case.bulk_job_started", tenant_id=job.tenant_id, job_id=str(job_id))
        while await self._next_item(job):
            pass
        async with transaction(self._sessions) as session:
            finished = await repository.finish_job(session, job)
        if finished:
            log.info("case.bulk_job_finished", tenant_id=job.tenant_id, job_id=str(job_id))

    async def _next_item(self, job: CaseBulkJob) -> bool:
        """Process one pending item; False when none is left to claim."""
        async with transaction(self._sessions) as session:
            item = await repository.claim_item(session, job)
            if item is None:
                return False
            outcome = await self._service.run_item(session, job, item)
        if outcome is Outcome.CHANGED and not job.dry_run:
            self._on_changed()
        return True

    async def _run_logged(self, job_id: uuid.UUID) -> None:
        try:
            await self.run(job_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            # Postgres away or a bug: the pending items stay pending for the next start.
            log.exception("case.bulk_job_failed", job_id=str(job_id))

    async def resume_unfinished(self) -> None:
        async with transaction(self._sessions) as session:
            unfinished = await repository.unfinished_job_ids(session)
        for job_id in unfinished:
            await self.submit(job_id)

    async def stop(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
