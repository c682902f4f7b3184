"""Admin transport for the tenant's case templates. Only the tenant's admin credentials
may call it, and only for their own tenant."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from services.cases import templates_service
from services.cases.api import Admin, Session
from services.cases.templates_schemas import TEMPLATE_NAME_PATTERN, CaseTemplate, CaseTemplateSpec

router = APIRouter(prefix="/api/v1/admin/case-templates", tags=["admin"])
Name = Annotated[str, Path(pattern=TEMPLATE_NAME_PATTERN)]


@router.get("", response_model=list[CaseTemplate], summary="The tenant's case templates")
async def list_case_templates(caller: Admin, session: Session) -> list[CaseTemplate]:
    return await templates_service.list_templates(session, caller)


@router.get("/{name}", response_model=CaseTemplate, summary="One case template")
async def read_case_template(name: Name, caller: Admin, session: Session) -> CaseTemplate:
    return await templates_service.read_template(session, caller, name)


@router.put(
    "/{name}",
    response_model=CaseTemplate,
    summary="Define or replace a case template (201 when created)",
)
async def put_case_template(
    name: Name, spec: CaseTemplateSpec, response: Response, caller: Admin, session: Session
) -> CaseTemplate:
    template, created = await templates_service.put_template(session, caller, name, spec)
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return template


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a case template")
async def delete_case_template(name: Name, caller: Admin, session: Session) -> None:
    await templates_service.delete_template(session, caller, name)
