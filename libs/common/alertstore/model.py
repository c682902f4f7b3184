"""What an alert store holds and answers: alert documents, queries, pages and the outcome
of a bulk write. Pure: no I/O."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from libs.common.contracts.detections import EntityType, Severity

# Entity values are compared lower-cased and cut like the case entity index
# (case_entities) and the Postgres index function of migration 0019.
ENTITY_VALUE_LIMIT = 512
ENTITY_TYPE_LIMIT = 32


@dataclass(frozen=True)
class AlertDocument:
    """One alert as the stores return it. `detection`, the normalized detection as
    received (the raw payload), is None unless the caller asked for it."""

    id: uuid.UUID
    tenant_id: str
    detection_id: str
    case_id: uuid.UUID | None
    title: str
    severity: Severity
    rule_id: str
    rule_name: str
    host: str | None
    source: str
    group_key: str
    event_time: datetime | None
    effective_time: datetime
    time_fallback: bool
    ingested_at: datetime
    last_seen: datetime
    occurrence_count: int
    stored_at: datetime
    detection: dict[str, Any] | None = None


@dataclass(frozen=True)
class AlertRef:
    """Enough to address an alert's document in a time-partitioned store."""

    tenant_id: str
    id: uuid.UUID
    effective_time: datetime


@dataclass(frozen=True)
class AlertQuery:
    """Filters of an alert search; all optional, all combined with AND. Times are on the
    alert's effective (event) time: `start` inclusive, `end` exclusive."""

    start: datetime | None = None
    end: datetime | None = None
    host: str | None = None
    # Any entity the alert names, its host included; `entity_type` narrows it to one type.
    entity: str | None = None
    entity_type: EntityType | None = None
    rule_id: str | None = None

    def host_key(self) -> str | None:
        return None if self.host is None else entity_key(EntityType.HOST.value, self.host)

    def entity_keys(self) -> list[str] | None:
        """The keys of which an alert must carry at least one, or None: no entity filter."""
        if self.entity is None:
            return None
        types = [self.entity_type] if self.entity_type is not None else list(EntityType)
        return [entity_key(t.value, self.entity) for t in types]


@dataclass(frozen=True)
class AlertPage:
    items: list[AlertDocument]
    next_cursor: str | None


# Item statuses worth sending again: the store is busy or failing, the document is fine.
# "N/A" is opensearch-py's status for a request that got no answer at all.
RETRIABLE_STATUSES: frozenset[int | str] = frozenset({429, 500, 502, 503, 504, "N/A"})


@dataclass(frozen=True)
class FailedItem:
    alert_id: str
    status: int | str  # the HTTP status of the item, or "N/A" when the request failed
    reason: str


@dataclass
class IndexOutcome:
    """Per-item result of a bulk write: what was written, removed, and what was not."""

    indexed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: list[FailedItem] = field(default_factory=list)

    def merge(self, other: IndexOutcome) -> None:
        self.indexed += other.indexed
        self.removed += other.removed
        self.failed += other.failed


def fold_entity_value(value: str) -> str:
    return value.lower()[:ENTITY_VALUE_LIMIT]


def entity_key(entity_type: str, value: str) -> str:
    return f"{entity_type[:ENTITY_TYPE_LIMIT]}={fold_entity_value(value)}"


def entity_keys(detection: Mapping[str, Any] | None, host: str | None) -> list[str]:
    """Every "type=value" key of an alert, from its stored detection and its host; the
    Python twin of the SQL function casestream_alert_entity_keys (migration 0019)."""
    keys: set[str] = set()
    entities: Iterable[Any] = (detection or {}).get("entities") or []
    if not isinstance(entities, list):
        entities = []
    for entity in entities:
        if not isinstance(entity, Mapping):
            continue
        kind, value = entity.get("type"), entity.get("value")
        if isinstance(kind, str) and isinstance(value, str) and value:
            keys.add(entity_key(kind, value))
    if host:
        keys.add(entity_key(EntityType.HOST.value, host))
    return sorted(keys)
