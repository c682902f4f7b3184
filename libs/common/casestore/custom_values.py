"""Custom field values on their way into a case: checked against the tenant's definitions
(read in the writer's transaction), and one audit event per changed key."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.casestore import custom_field_repository
from libs.common.casestore.batch import NewCase
from libs.common.casestore.custom_fields import checked_values
from libs.common.casestore.events import event_base
from libs.common.contracts.cases import CaseCustomFieldChangedV1, CaseEventV1
from libs.common.db.models import Case


async def with_checked_custom_fields(session: AsyncSession, new: NewCase) -> NewCase:
    """A case opened by hand: its values checked, and every required field present.
    (Cases opened by alerting carry none: no person was there to be asked for them.)"""
    definitions = await custom_field_repository.definitions(session, new.tenant_id)
    values = checked_values(definitions, {}, new.custom_fields, opening=True)
    return replace(new, custom_fields=values)


async def custom_field_changes(
    session: AsyncSession, case: Case, requested: Mapping[str, Any], actor: str
) -> tuple[dict[str, Any], list[CaseEventV1]]:
    """The case's custom fields after a partial change, and one event per changed key."""
    definitions = await custom_field_repository.definitions(session, case.tenant_id)
    old = dict(case.custom_fields)
    new = checked_values(definitions, old, requested, opening=False)
    events: list[CaseEventV1] = [
        CaseCustomFieldChangedV1(
            **event_base(case, actor),
            field=f"custom_fields.{key}",
            key=key,
            old=old.get(key),
            new=new.get(key),
        )
        for key in requested
        if old.get(key) != new.get(key)
    ]
    return new, events
