"""What the case list can be filtered and sorted by, and its opaque keyset cursors.

A cursor carries the sort key of the last case of a page (never an offset), so the next
page is an index range scan however deep the client pages. It names the sort and order it
was issued for and carries a checksum, so an edited or foreign cursor is refused (422)
rather than silently answering a different question. The checksum is not a secret: a
forged position could only move within the caller's own tenant."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from libs.common.contracts.detections import EntityType, Severity
from libs.common.db.models import MAX_ENTITY_VALUE, Case
from libs.common.errors import InvalidInput


class CaseSort(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    SEVERITY = "severity"  # most severe first by default; ties newest first
    NUMBER = "number"
    # Soonest due first by default; cases without SLA due times come last.
    ACK_DUE = "ack_due_at"
    RESOLVE_DUE = "resolve_due_at"
    # The spelling of the first API version; the same as sort=created&order=desc.
    NEWEST = "-created_at"


class SortOrder(StrEnum):
    ASC = "asc"
    DESC = "desc"


DEFAULT_ORDER = {
    CaseSort.CREATED: SortOrder.DESC,
    CaseSort.UPDATED: SortOrder.DESC,
    CaseSort.SEVERITY: SortOrder.DESC,
    CaseSort.NUMBER: SortOrder.DESC,
    CaseSort.ACK_DUE: SortOrder.ASC,
    CaseSort.RESOLVE_DUE: SortOrder.ASC,
}


@dataclass(frozen=True)
class Ordering:
    sort: CaseSort
    order: SortOrder

    @classmethod
    def of(cls, sort: CaseSort, order: SortOrder | None) -> Ordering:
        if sort is CaseSort.NEWEST:
            if order is SortOrder.ASC:
                raise InvalidInput("sort=-created_at is descending; use sort=created&order=asc")
            return cls(CaseSort.CREATED, SortOrder.DESC)
        return cls(sort, order or DEFAULT_ORDER[sort])


@dataclass(frozen=True)
class CaseFilter:
    statuses: list[str] = field(default_factory=list)
    severities: list[str] = field(default_factory=list)
    classifications: list[str] = field(default_factory=list)
    # True: a due time passed before (or without) its acknowledgement/resolution.
    sla_breached: bool | None = None
    # True: only cases on legal hold; False: only cases not on hold.
    legal_hold: bool | None = None
    assignee: str | None = None
    # Lower-cased; a case must carry every one of them.
    tags: list[str] = field(default_factory=list)
    host: str | None = None
    rule_id: str | None = None
    # Lower-cased: cases with an alert carrying this entity value (of this type if given).
    entity: str | None = None
    entity_type: EntityType | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    updated_after: datetime | None = None
    updated_before: datetime | None = None
    # Words, "quoted phrases", OR and -excluded words (websearch syntax) over the title,
    # description, investigation summary, conclusion and notes.
    q: str | None = None
    # cf.<key>=<value> as given (text); the service turns them into the JSONB document a
    # case's custom_fields must contain, once it has read the tenant's definitions.
    custom_field_terms: dict[str, list[str]] = field(default_factory=dict)
    custom_fields_contain: dict[str, Any] = field(default_factory=dict)
    ordering: Ordering = Ordering(CaseSort.CREATED, SortOrder.DESC)


def counted_by_group(filters: CaseFilter) -> bool:
    """True when the filter only narrows status, severity and classification: its counts
    are sums of the kept per-group counts (libs/common/casestore/counts.py)."""
    kept = CaseFilter(
        statuses=filters.statuses,
        severities=filters.severities,
        classifications=filters.classifications,
        ordering=filters.ordering,
    )
    return filters == kept


def normalized(filters: CaseFilter) -> CaseFilter:
    """The filter as the indexes store values (lower-cased tags and entity values), with
    its time ranges checked: times must carry a zone, and a range must not be empty."""
    for name in ("created_after", "created_before", "updated_after", "updated_before"):
        moment: datetime | None = getattr(filters, name)
        if moment is not None and moment.tzinfo is None:
            raise InvalidInput(f"{name} needs a time zone (e.g. Z or +00:00)", parameter=name)
    for start, end in (("created_after", "created_before"), ("updated_after", "updated_before")):
        lower, upper = getattr(filters, start), getattr(filters, end)
        if lower is not None and upper is not None and lower >= upper:
            raise InvalidInput(f"{start} must be before {end}", parameter=start)
    entity = filters.entity.strip().lower()[:MAX_ENTITY_VALUE] if filters.entity else None
    if filters.entity_type is not None and entity is None:
        raise InvalidInput("entity_type needs entity", parameter="entity_type")
    tags = sorted({tag.strip().lower() for tag in filters.tags if tag.strip()})
    q = filters.q.strip() if filters.q is not None else None
    if q == "":
        raise InvalidInput("q has no words to search for", parameter="q")
    return replace(filters, entity=entity or None, tags=tags, q=q)


# The sort key of the last case of a page: its values in sort-key order, then its id.
Position = tuple[Any, ...]


def sort_key(case: Case, sort: CaseSort) -> Position:
    """What the page's SQL orders by, computed from a listed case (list_repository.py
    spells the same keys in SQL; None stands for a missing due time)."""
    if sort is CaseSort.NUMBER:
        return (case.number,)  # unique per tenant: no tie-breaker needed
    if sort is CaseSort.SEVERITY:
        return (Severity(case.severity).rank, case.created_at, case.id)
    column = {
        CaseSort.CREATED: "created_at",
        CaseSort.UPDATED: "updated_at",
        CaseSort.ACK_DUE: "ack_due_at",
        CaseSort.RESOLVE_DUE: "resolve_due_at",
    }[sort]
    return (getattr(case, column), case.id)


def encode_cursor(case: Case, ordering: Ordering) -> str:
    values = [_to_json(v) for v in sort_key(case, ordering.sort)]
    body = [ordering.sort.value, ordering.order.value, values]
    raw = json.dumps([*body, _checksum(body)], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, ordering: Ordering) -> Position:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        sort, order, values, checksum = json.loads(base64.urlsafe_b64decode(padded))
        if checksum != _checksum([sort, order, values]):
            raise ValueError("checksum")
        sort, order = CaseSort(sort), SortOrder(order)
        expected = sort_key_types(sort)
        if not isinstance(values, list) or len(values) != len(expected):
            raise ValueError("shape")
        position = tuple(_from_json(v, t) for v, t in zip(values, expected, strict=True))
    except (ValueError, TypeError) as error:
        raise InvalidInput("cursor is not one this API issued", cursor=cursor[:100]) from error
    if (sort, order) != (ordering.sort, ordering.order):
        raise InvalidInput(
            "cursor belongs to another sort order",
            cursor_sort=sort.value,
            cursor_order=order.value,
        )
    return position


def sort_key_types(sort: CaseSort) -> tuple[type, ...]:
    if sort is CaseSort.NUMBER:
        return (int,)
    if sort is CaseSort.SEVERITY:
        return (int, datetime, uuid.UUID)
    return (datetime, uuid.UUID)


def _checksum(body: list[Any]) -> str:
    digest = hashlib.sha256(json.dumps(body, separators=(",", ":")).encode()).hexdigest()
    return digest[:16]


def _to_json(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _from_json(value: Any, kind: type) -> Any:
    if value is None and kind is datetime:
        return None  # a case without a due time
    if kind is datetime:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise ValueError("naive time")
        return parsed
    if kind is uuid.UUID:
        return uuid.UUID(value)
    if kind is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ValueError("unexpected cursor value")
