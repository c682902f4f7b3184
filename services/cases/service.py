"""Case rules for the API. Reads go through the repository; every write goes through the
case store, inside the request's transaction (this module never commits)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import asdict, replace
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.casestore import custom_field_repository
from libs.common.casestore.chain import verify_chain
from libs.common.casestore.custom_fields import filter_document
from libs.common.casestore.store import CaseStore
from libs.common.db.models import Case
from libs.common.errors import DomainError, InvalidInput, NotFound
from libs.common.http import Principal
from libs.common.logging import get_logger
from services.cases import (
    attachments_repository,
    creation,
    list_repository,
    repository,
    retention_repository,
    tasks_repository,
)
from services.cases.attachments_schemas import AttachmentOut, ExportedAttachment
from services.cases.creation import MAX_ALERTS_IN_DETAIL, CreateRequest, case_detail
from services.cases.export_archive import archive_name
from services.cases.listing import CaseFilter, decode_cursor, encode_cursor, normalized
from services.cases.retention_schemas import CasePurgeOut, CasePurgePage
from services.cases.schemas import (
    AlertSummary,
    AlertWhy,
    AuditEvent,
    AuditVerdict,
    CaseDetail,
    CaseExport,
    CasePage,
    CasePatch,
    CaseRef,
    CaseSummary,
    ExportedAlert,
    ExportMetadata,
    NoteOut,
)
from services.cases.settings import ListSettings
from services.cases.tasks_schemas import TaskCounts, TaskOut

log = get_logger(__name__)


class CaseService:
    def __init__(self, store: CaseStore, count_limit: int = ListSettings().count_limit) -> None:
        self._store = store
        self._count_limit = count_limit

    async def list_cases(
        self,
        session: AsyncSession,
        caller: Principal,
        filters: CaseFilter,
        cursor: str | None,
        limit: int,
    ) -> CasePage:
        filters = normalized(filters)
        if filters.custom_field_terms:
            definitions = await custom_field_repository.definitions(session, caller.tenant_id)
            contains = filter_document(definitions, filters.custom_field_terms)
            filters = replace(filters, custom_fields_contain=contains)
        if filters.q is not None and not await list_repository.has_search_terms(session, filters.q):
            raise InvalidInput("q has no words to search for", parameter="q")
        after = decode_cursor(cursor, filters.ordering) if cursor else None
        rows = await list_repository.list_cases(
            session, caller.tenant_id, filters, after=after, limit=limit + 1
        )
        counts, exact = await list_repository.count_by_status(
            session, caller.tenant_id, filters, self._count_limit
        )
        page, more = rows[:limit], len(rows) > limit
        return CasePage(
            items=[CaseSummary.model_validate(row) for row in page],
            next_cursor=encode_cursor(page[-1], filters.ordering) if more else None,
            counts=counts,
            total=sum(counts.values()),
            counts_exact=exact,
        )

    async def get_case(
        self, session: AsyncSession, caller: Principal, case_id: uuid.UUID
    ) -> CaseDetail:
        case = await repository.get_case(session, caller.tenant_id, case_id)
        if case is None:
            raise NotFound("case not found", case_id=str(case_id))
        return await self._detail(session, case)

    async def _detail(self, session: AsyncSession, case: Case) -> CaseDetail:
        alerts = await repository.case_alerts(
            session, case.tenant_id, case.id, MAX_ALERTS_IN_DETAIL + 1
        )
        notes = await repository.case_notes(session, case.tenant_id, case.id)
        tasks = await tasks_repository.case_tasks(session, case.tenant_id, case.id)
        timeline = await repository.case_timeline(session, case.tenant_id, case.id)
        return case_detail(case, timeline, tasks, alerts, notes)

    async def explain_alert(
        self, session: AsyncSession, caller: Principal, alert_id: uuid.UUID
    ) -> AlertWhy:
        alert = await repository.get_alert(session, caller.tenant_id, alert_id)
        if alert is None:
            raise NotFound("alert not found", alert_id=str(alert_id))
        case = None
        if alert.case_id is not None:
            case = await repository.get_case(session, caller.tenant_id, alert.case_id)
            if case is None:  # its case was deleted: the alert goes with it
                raise NotFound("alert not found", alert_id=str(alert_id))
        return AlertWhy(
            alert=AlertSummary.model_validate(alert),
            case=CaseRef.model_validate(case) if case is not None else None,
            grouping=alert.grouping,
        )

    async def verify_audit(
        self, session: AsyncSession, caller: Principal, case_id: uuid.UUID
    ) -> AuditVerdict:
        if await repository.get_case(session, caller.tenant_id, case_id) is None:
            raise NotFound("case not found", case_id=str(case_id))
        verdict = verify_chain(await repository.case_timeline(session, caller.tenant_id, case_id))
        return AuditVerdict(case_id=case_id, **asdict(verdict))

    async def export_case(
        self, session: AsyncSession, caller: Principal, case_id: uuid.UUID
    ) -> CaseExport:
        """Everything recorded on the case (alerts with their payloads, no cap unlike the
        detail view; notes; tasks), and the audit chain's verdict at export time."""
        case = await repository.get_case(session, caller.tenant_id, case_id)
        if case is None:
            raise NotFound("case not found", case_id=str(case_id))
        alerts = await repository.case_alerts_with_payloads(session, caller.tenant_id, case_id)
        notes = await repository.case_notes(session, caller.tenant_id, case_id)
        tasks = await tasks_repository.case_tasks(session, caller.tenant_id, case_id)
        attachments = await attachments_repository.case_attachments(
            session, caller.tenant_id, case_id
        )
        events = await repository.case_timeline(session, caller.tenant_id, case_id)
        verdict = verify_chain(events)
        log.info("case.exported", case_id=str(case_id), alerts=len(alerts), events=len(events))
        return CaseExport(
            metadata=ExportMetadata(
                exported_at=datetime.now(UTC),
                exported_by=caller.name,
                tenant_id=caller.tenant_id,
            ),
            case=CaseSummary.model_validate(case),
            description=case.description,
            investigation_summary=case.investigation_summary,
            conclusion=case.conclusion,
            alerts=[ExportedAlert.model_validate(a) for a in alerts],
            notes=[NoteOut.model_validate(n) for n in notes],
            tasks=[TaskOut.model_validate(t) for t in tasks],
            task_counts=TaskCounts.of(tasks),
            attachments=[
                ExportedAttachment(
                    **AttachmentOut.model_validate(a).model_dump(),
                    archive_name=archive_name(a.id, a.filename),
                )
                for a in attachments
            ],
            timeline=[AuditEvent.model_validate(e) for e in events],
            audit_verification=AuditVerdict(case_id=case_id, **asdict(verdict)),
        )

    async def create_cases(
        self, session: AsyncSession, requests: Sequence[CreateRequest]
    ) -> list[CaseDetail | DomainError]:
        """Cases opened by hand, several at once (committed together by the caller), each
        with its detail or the error that refused it alone."""
        return await creation.create_cases(session, self._store, requests)

    async def update_case(
        self, session: AsyncSession, caller: Principal, case_id: uuid.UUID, patch: CasePatch
    ) -> CaseSummary:
        case = None
        if patch.field_changes():
            case = await self._store.update_fields(
                session, caller.tenant_id, case_id, patch.field_changes(), caller.name
            )
        if patch.status is not None:
            case = await self._store.change_status(
                session, caller.tenant_id, case_id, patch.status, caller.name, patch.reason
            )
        assert case is not None  # CasePatch refuses a patch that changes nothing
        return CaseSummary.model_validate(case)

    async def delete_case(
        self, session: AsyncSession, caller: Principal, case_id: uuid.UUID, reason: str | None
    ) -> None:
        await self._store.delete_case(session, caller.tenant_id, case_id, caller.name, reason)
        log.info("case.deleted", case_id=str(case_id), tenant_id=caller.tenant_id)

    async def restore_case(
        self, session: AsyncSession, caller: Principal, case_id: uuid.UUID, reason: str | None
    ) -> CaseSummary:
        case = await self._store.restore_case(
            session, caller.tenant_id, case_id, caller.name, reason
        )
        log.info("case.restored", case_id=str(case_id), tenant_id=caller.tenant_id)
        return CaseSummary.model_validate(case)

    async def set_legal_hold(
        self, session: AsyncSession, caller: Principal, case_id: uuid.UUID, reason: str
    ) -> CaseSummary:
        case = await self._store.set_legal_hold(
            session, caller.tenant_id, case_id, caller.name, reason
        )
        log.info("case.legal_hold_set", case_id=str(case_id), tenant_id=caller.tenant_id)
        return CaseSummary.model_validate(case)

    async def release_legal_hold(
        self, session: AsyncSession, caller: Principal, case_id: uuid.UUID, reason: str
    ) -> CaseSummary:
        case = await self._store.release_legal_hold(
            session, caller.tenant_id, case_id, caller.name, reason
        )
        log.info("case.legal_hold_released", case_id=str(case_id), tenant_id=caller.tenant_id)
        return CaseSummary.model_validate(case)

    async def list_purges(
        self,
        session: AsyncSession,
        caller: Principal,
        *,
        before: datetime | None,
        number: int | None,
        limit: int,
    ) -> CasePurgePage:
        if before is not None and before.tzinfo is None:
            raise InvalidInput("before needs a time zone (e.g. Z or +00:00)", parameter="before")
        rows = await retention_repository.purges(
            session, caller.tenant_id, before=before, number=number, limit=limit
        )
        return CasePurgePage(items=[CasePurgeOut.model_validate(row) for row in rows])

    async def add_note(
        self,
        session: AsyncSession,
        caller: Principal,
        case_id: uuid.UUID,
        body: str,
        idempotency_key: str | None,
    ) -> tuple[NoteOut, bool]:
        note, created = await self._store.add_note(
            session, caller.tenant_id, case_id, caller.name, body, idempotency_key
        )
        return NoteOut.model_validate(note), created
