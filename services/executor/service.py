"""Runs the playbooks that match a case event and records each run.

A run's key (playbook + event id) doubles as the cases API idempotency key, so a replayed
event, or a crash between the API call and the run record, never adds a second note."""

from __future__ import annotations

from libs.common.contracts.cases import CaseEventV1
from libs.common.db.engine import SessionFactory, transaction
from libs.common.logging import get_logger
from libs.common.settings import TenantScopedSection
from services.executor import repository
from services.executor.cases_client import CasesApiClient, CasesApiError
from services.executor.playbooks import Playbook

log = get_logger(__name__)


class PlaybookRunner:
    def __init__(
        self,
        playbooks: tuple[Playbook, ...],
        sessions: SessionFactory,
        cases: CasesApiClient,
        scope: TenantScopedSection,
    ) -> None:
        self._playbooks = playbooks
        self._sessions = sessions
        self._cases = cases
        self._scope = scope

    async def on_event(self, event: CaseEventV1) -> None:
        if not self._scope.covers(event.tenant_id):
            return  # the service credential cannot act on this tenant's cases
        for playbook in self._playbooks:
            if playbook.matches(event):
                await self._run(playbook, event)

    async def _run(self, playbook: Playbook, event: CaseEventV1) -> None:
        async with transaction(self._sessions) as session:
            run = await repository.claim_run(
                session,
                tenant_id=event.tenant_id,
                playbook=playbook.name,
                event_id=event.event_id,
                case_id=event.case_id,
            )
        if run is None:
            return  # already succeeded for this event
        run_key = f"playbook:{playbook.name}:{event.event_id}"
        try:
            result = await playbook.run(event, self._cases, run_key)
        except CasesApiError as error:
            # Permanent refusal or retries exhausted: recorded as failed, visible in history.
            async with transaction(self._sessions) as session:
                await repository.finish_run(
                    session,
                    run.id,
                    event.tenant_id,
                    status="failed",
                    result=None,
                    error=str(error)[:2_000],
                )
            log.error("playbook.failed", playbook=playbook.name, status_code=error.status_code)
            return
        async with transaction(self._sessions) as session:
            await repository.finish_run(
                session, run.id, event.tenant_id, status="succeeded", result=result, error=None
            )
        log.info("playbook.succeeded", playbook=playbook.name, case_id=str(event.case_id))
