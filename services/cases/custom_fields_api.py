"""Admin transport for the tenant's custom case fields. Only the tenant's admin
credentials may call it, and only for their own tenant."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from libs.common.casestore.custom_fields import KEY_PATTERN, CustomFieldDef, CustomFieldSpec
from services.cases import custom_fields_service
from services.cases.api import Admin, Session

router = APIRouter(prefix="/api/v1/admin/custom-fields", tags=["admin"])
Key = Annotated[str, Path(pattern=KEY_PATTERN)]


@router.get("", response_model=list[CustomFieldDef], summary="The tenant's custom fields")
async def list_custom_fields(caller: Admin, session: Session) -> list[CustomFieldDef]:
    return await custom_fields_service.list_definitions(session, caller)


@router.get("/{key}", response_model=CustomFieldDef, summary="One custom field")
async def read_custom_field(key: Key, caller: Admin, session: Session) -> CustomFieldDef:
    return await custom_fields_service.read_definition(session, caller, key)


@router.put(
    "/{key}",
    response_model=CustomFieldDef,
    summary="Define a custom field or change its label, options, limit or requiredness "
    "(201 when created; its type cannot change)",
)
async def put_custom_field(
    key: Key, spec: CustomFieldSpec, response: Response, caller: Admin, session: Session
) -> CustomFieldDef:
    definition, created = await custom_fields_service.put_definition(session, caller, key, spec)
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return definition


@router.delete(
    "/{key}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a custom field; values on cases stay until removed",
)
async def delete_custom_field(key: Key, caller: Admin, session: Session) -> None:
    await custom_fields_service.delete_definition(session, caller, key)
