"""Custom field values on their way into a case: checked against the tenant's definitions
(read in the writer's transaction), and one audit event per changed key."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, NewType

from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.casestore import custom_field_repository
from libs.common.casestore.batch import NewCase
from libs.common.casestore.custom_fields import checked_values
from libs.common.casestore.events import event_base
from libs.common.contracts.cases import CaseCustomFieldChangedV1, CaseEventV1
from libs.common.db.models import Case
from libs.common.errors import DomainError

# A case to open by hand whose custom fields passed the tenant's definitions: only
# `each_with_checked_custom_fields` makes one, so mypy keeps unchecked values out.
CheckedCase = NewType("CheckedCase", NewCase)


async def each_with_checked_custom_fields(
    session: AsyncSession, tenant_id: str, news: Sequence[NewCase]
) -> list[CheckedCase | DomainError]:
    """Cases of one tenant opened by hand, checked against one read of the definitions;
    each gets its checked case or the error that refuses it alone. Every required field
    must have a value. (Cases opened by alerting carry none: no person was there to be
    asked for them.)"""
    definitions = await custom_field_repository.definitions(session, tenant_id)
    checked: list[CheckedCase | DomainError] = []
    for new in news:
        try:
            values = checked_values(definitions, {}, new.custom_fields, opening=True)
        except DomainError as error:
            checked.append(error)
        else:
            checked.append(CheckedCase(replace(new, custom_fields=values)))
    return checked


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
