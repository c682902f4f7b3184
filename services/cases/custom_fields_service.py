"""Rules of a tenant's custom field definitions: at most MAX_DEFINITIONS, and a field
keeps its type (values already on cases were checked against it)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.casestore import custom_field_repository
from libs.common.casestore.custom_fields import MAX_DEFINITIONS, CustomFieldDef, CustomFieldSpec
from libs.common.errors import Conflict, NotFound
from libs.common.http import Principal
from libs.common.logging import get_logger

log = get_logger(__name__)


async def list_definitions(session: AsyncSession, caller: Principal) -> list[CustomFieldDef]:
    return await custom_field_repository.definitions(session, caller.tenant_id)


async def read_definition(session: AsyncSession, caller: Principal, key: str) -> CustomFieldDef:
    for definition in await custom_field_repository.definitions(session, caller.tenant_id):
        if definition.key == key:
            return definition
    raise NotFound("custom field not found", field=key)


async def put_definition(
    session: AsyncSession, caller: Principal, key: str, spec: CustomFieldSpec
) -> tuple[CustomFieldDef, bool]:
    """Create or replace the definition; returns it and whether it was created."""
    await custom_field_repository.lock_tenant_definitions(session, caller.tenant_id)
    current = {
        d.key: d for d in await custom_field_repository.definitions(session, caller.tenant_id)
    }
    existing = current.get(key)
    if existing is None and len(current) >= MAX_DEFINITIONS:
        raise Conflict(f"at most {MAX_DEFINITIONS} custom fields per tenant", limit=MAX_DEFINITIONS)
    if existing is not None and existing.type is not spec.type:
        raise Conflict(
            "a custom field keeps its type: delete it and define it again",
            field=key,
            type=existing.type.value,
        )
    definition = CustomFieldDef(key=key, **spec.model_dump())
    stored = await custom_field_repository.upsert_definition(
        session, caller.tenant_id, definition.model_dump(mode="json"), caller.name
    )
    log.info(
        "custom_field.defined",
        tenant_id=caller.tenant_id,
        field=key,
        type=spec.type.value,
        created=existing is None,
    )
    return stored, existing is None


async def delete_definition(session: AsyncSession, caller: Principal, key: str) -> None:
    """Values already on cases stay (and can still be removed); new ones are refused."""
    if not await custom_field_repository.delete_definition(session, caller.tenant_id, key):
        raise NotFound("custom field not found", field=key)
    log.info("custom_field.deleted", tenant_id=caller.tenant_id, field=key)
