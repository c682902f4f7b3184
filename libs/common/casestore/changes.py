"""One change to apply to many cases (bulk jobs): field values, tags to add and remove,
and a status move. What it changes depends on each case, so it is decided per case under
the case's row lock."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from libs.common.casestore.fields import stored_value
from libs.common.contracts.cases import CaseStatus
from libs.common.db.models import Case


@dataclass(frozen=True)
class CaseChange:
    fields: Mapping[str, Any] = field(default_factory=dict)
    tags_add: tuple[str, ...] = ()
    tags_remove: tuple[str, ...] = ()
    status: CaseStatus | None = None
    reason: str | None = None


def field_values(case: Case, change: CaseChange) -> dict[str, Any]:
    """The fields whose value `change` would change on `case`, with their requested value.
    Tags: the case's tags without the removed ones (case-insensitively), then the added."""
    requested = dict(change.fields)
    if change.tags_add or change.tags_remove:
        removed = {tag.strip().casefold() for tag in change.tags_remove}
        kept = [tag for tag in case.tags if tag.casefold() not in removed]
        requested["tags"] = [*kept, *change.tags_add]
    return {
        name: value
        for name, value in requested.items()
        if stored_value(name, value) != getattr(case, name)
    }


def moves_status(case: Case, change: CaseChange) -> bool:
    """A case already in the requested status is left as it is (unchanged, not refused)."""
    return change.status is not None and change.status.value != case.status
