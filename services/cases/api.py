"""HTTP transport for cases: authorize, open the request's transaction, call one service
function, return. Every route requires an API key; the key decides the tenant."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.contracts.cases import CaseClassification, CaseStatus
from libs.common.contracts.detections import EntityType, Severity
from libs.common.db.engine import transaction
from libs.common.http import Principal, app_state
from services.cases.attachments_service import AttachmentService
from services.cases.create_batcher import CaseCreateBatcher
from services.cases.listing import CaseFilter, CaseSort, Ordering, SortOrder
from services.cases.schemas import (
    AlertWhy,
    AuditVerdict,
    CaseDetail,
    CaseExport,
    CaseIn,
    CasePage,
    CasePatch,
    CaseSummary,
    NoteIn,
    NoteOut,
)
from services.cases.service import CaseService

router = APIRouter(prefix="/api/v1")

# Dependencies are `async def` even when they await nothing: FastAPI runs a plain `def`
# one in its thread pool, a thread hand-off per request (~4 % of a create's CPU). The
# app's services come through `app_state` (libs/common/http.py).


async def principal(request: Request) -> Principal:
    authenticated: Principal = await request.app.state.authenticator.authenticate(request)
    return authenticated


async def admin_principal(request: Request) -> Principal:
    """Tenant admins (CASESTREAM__CASES__ADMIN_API_KEYS): tenant-wide settings."""
    authenticated: Principal = await request.app.state.admin_authenticator.authenticate(request)
    return authenticated


async def unit_of_work(request: Request) -> AsyncIterator[AsyncSession]:
    async with transaction(request.app.state.sessions) as session:
        yield session
    # Wake the outbox relay only after the commit above; a rolled-back write sends nothing.
    request.app.state.relay.notify()


Caller = Annotated[Principal, Depends(principal)]
Admin = Annotated[Principal, Depends(admin_principal)]
# scope="function": the transaction commits before the response is sent, so a 2xx means
# the change is durable and a client reading right after sees it.
Session = Annotated[AsyncSession, Depends(unit_of_work, scope="function")]
Service = Annotated[CaseService, Depends(app_state("case_service"))]
Attachments = Annotated[AttachmentService, Depends(app_state("attachment_service"))]
Creates = Annotated[CaseCreateBatcher, Depends(app_state("create_batcher"))]
JSON = "application/json"


@router.post(
    "/cases",
    response_model=CaseDetail,
    status_code=status.HTTP_201_CREATED,
    summary="Open a case by hand",
)
async def create_case(body: CaseIn, caller: Caller, creates: Creates) -> Response:
    # Committed together with other concurrent creates; answered after that commit.
    detail = await creates.create(caller, body)
    # Serialized once here: FastAPI would validate the model it was given all over again.
    return Response(detail.model_dump_json(), status.HTTP_201_CREATED, media_type=JSON)


CUSTOM_FIELD_PREFIX = "cf."


def custom_field_terms(request: Request) -> dict[str, list[str]]:
    """`cf.<key>=<value>` parameters (repeatable for multi_select: contains every one)."""
    terms: dict[str, list[str]] = {}
    for name, value in request.query_params.multi_items():
        if name.startswith(CUSTOM_FIELD_PREFIX):
            terms.setdefault(name.removeprefix(CUSTOM_FIELD_PREFIX), []).append(value)
    return terms


async def case_filter(
    request: Request,
    status_filter: Annotated[list[CaseStatus] | None, Query(alias="status")] = None,
    severity: Annotated[list[Severity] | None, Query()] = None,
    classification: Annotated[list[CaseClassification] | None, Query()] = None,
    sla_breached: Annotated[bool | None, Query()] = None,
    legal_hold: Annotated[bool | None, Query(description="on legal hold (true) or not")] = None,
    assignee: Annotated[str | None, Query(min_length=1, max_length=256)] = None,
    tag: Annotated[
        list[str] | None,
        Query(max_length=128, description="repeatable: cases carrying every tag (any case)"),
    ] = None,
    host: Annotated[str | None, Query(min_length=1, max_length=1_024)] = None,
    rule_id: Annotated[str | None, Query(min_length=1, max_length=256)] = None,
    entity: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=2_048,
            description="cases with an alert carrying this entity value or host (any case)",
        ),
    ] = None,
    entity_type: Annotated[EntityType | None, Query()] = None,
    created_after: Annotated[datetime | None, Query(description="inclusive")] = None,
    created_before: Annotated[datetime | None, Query(description="exclusive")] = None,
    updated_after: Annotated[datetime | None, Query(description="inclusive")] = None,
    updated_before: Annotated[datetime | None, Query(description="exclusive")] = None,
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=512,
            description="full text over title, description, summary, conclusion and notes: "
            'words, "phrases", OR, -word; results keep the requested sort',
        ),
    ] = None,
    sort: Annotated[CaseSort, Query()] = CaseSort.CREATED,
    order: Annotated[
        SortOrder | None, Query(description="default: desc, and asc for the due times")
    ] = None,
) -> CaseFilter:
    return CaseFilter(
        statuses=[s.value for s in status_filter or []],
        severities=[s.value for s in severity or []],
        classifications=[c.value for c in classification or []],
        sla_breached=sla_breached,
        legal_hold=legal_hold,
        assignee=assignee,
        tags=tag or [],
        host=host,
        rule_id=rule_id,
        entity=entity,
        entity_type=entity_type,
        created_after=created_after,
        created_before=created_before,
        updated_after=updated_after,
        updated_before=updated_before,
        q=q,
        custom_field_terms=custom_field_terms(request),
        ordering=Ordering.of(sort, order),
    )


@router.get(
    "/cases",
    response_model=CasePage,
    summary="List and filter cases, a page at a time, with counts per status",
)
async def list_cases(
    caller: Caller,
    session: Session,
    service: Service,
    filters: Annotated[CaseFilter, Depends(case_filter)],
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> CasePage:
    return await service.list_cases(session, caller, filters, cursor=cursor, limit=limit)


@router.get(
    "/cases/{case_id}", response_model=CaseDetail, summary="One case with alerts and timeline"
)
async def get_case(
    case_id: uuid.UUID, caller: Caller, session: Session, service: Service
) -> CaseDetail:
    return await service.get_case(session, caller, case_id)


@router.get(
    "/alerts/{alert_id}/why",
    response_model=AlertWhy,
    summary="Why an alert is in its case: grouping policy, key, window and decision",
)
async def explain_alert(
    alert_id: uuid.UUID, caller: Caller, session: Session, service: Service
) -> AlertWhy:
    return await service.explain_alert(session, caller, alert_id)


@router.get(
    "/cases/{case_id}/audit/verify",
    response_model=AuditVerdict,
    summary="Recompute the case's audit hash chain: was any event changed or removed?",
)
async def verify_audit(
    case_id: uuid.UUID, caller: Caller, session: Session, service: Service
) -> AuditVerdict:
    return await service.verify_audit(session, caller, case_id)


class ExportFormat(StrEnum):
    JSON = "json"
    ZIP = "zip"


@router.get(
    "/cases/{case_id}/export",
    response_model=CaseExport,
    responses={200: {"content": {"application/zip": {}}}},
    summary="One case as one JSON document: alerts with payloads, notes, attachments' "
    "metadata, the audit timeline and its verification; ?format=zip adds the attachments' "
    "contents as files beside it",
)
async def export_case(
    case_id: uuid.UUID,
    response: Response,
    caller: Caller,
    session: Session,
    service: Service,
    attachments: Attachments,
    export_format: Annotated[ExportFormat, Query(alias="format")] = ExportFormat.JSON,
) -> CaseExport | Response:
    export = await service.export_case(session, caller, case_id)
    if export_format is ExportFormat.ZIP:
        archive = await attachments.archive(session, caller, export)
        disposition = f'attachment; filename="case-{export.case.number}.zip"'
        return StreamingResponse(
            archive, media_type="application/zip", headers={"content-disposition": disposition}
        )
    filename = f"case-{export.case.number}.json"
    response.headers["content-disposition"] = f'attachment; filename="{filename}"'
    return export


@router.patch(
    "/cases/{case_id}",
    response_model=CaseSummary,
    summary="Change a case's status and/or fields; each change audited",
)
async def update_case(
    case_id: uuid.UUID, patch: CasePatch, caller: Caller, session: Session, service: Service
) -> CaseSummary:
    return await service.update_case(session, caller, case_id, patch)


@router.post(
    "/cases/{case_id}/notes",
    response_model=NoteOut,
    status_code=status.HTTP_201_CREATED,
    summary="Add a note; an Idempotency-Key makes retries safe",
)
async def add_note(
    case_id: uuid.UUID,
    note: NoteIn,
    response: Response,
    caller: Caller,
    session: Session,
    service: Service,
    idempotency_key: Annotated[str | None, Header(max_length=256)] = None,
) -> NoteOut:
    created_note, created = await service.add_note(
        session, caller, case_id, note.body, idempotency_key
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return created_note
