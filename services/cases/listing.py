"""What the case list can be filtered and sorted by, and its opaque keyset cursors."""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from libs.common.db.models import Case
from libs.common.errors import InvalidInput


class CaseSort(StrEnum):
    NEWEST = "-created_at"
    # Soonest due first; cases without SLA due times (opened before SLAs) come last.
    ACK_DUE = "ack_due_at"
    RESOLVE_DUE = "resolve_due_at"


@dataclass(frozen=True)
class CaseFilter:
    statuses: list[str] = field(default_factory=list)
    severities: list[str] = field(default_factory=list)
    classifications: list[str] = field(default_factory=list)
    # True: a due time passed before (or without) its acknowledgement/resolution.
    sla_breached: bool | None = None
    sort: CaseSort = CaseSort.NEWEST


# Where the previous page ended: the sort key of its last case (None: no due time) and id.
Position = tuple[datetime | None, uuid.UUID]


def sort_key(case: Case, sort: CaseSort) -> datetime | None:
    key: datetime | None = getattr(case, sort.value.lstrip("-"))
    return key


def encode_cursor(case: Case, sort: CaseSort) -> str:
    key = sort_key(case, sort)
    raw = json.dumps([sort.value, key.isoformat() if key else None, str(case.id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, sort: CaseSort) -> Position:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        cursor_sort, key, case_id = json.loads(base64.urlsafe_b64decode(padded))
        position = (datetime.fromisoformat(key) if key else None, uuid.UUID(case_id))
    except (ValueError, TypeError) as error:
        raise InvalidInput("cursor is not one this API issued", cursor=cursor[:100]) from error
    if cursor_sort != sort.value:
        raise InvalidInput(
            "cursor belongs to another sort order", cursor_sort=str(cursor_sort)[:32]
        )
    return position
