"""How alerts are laid out in OpenSearch: daily index names, the index template with its
explicit mapping, bulk actions and query bodies. Pure: no client, no I/O.

Each alert lives in `<prefix>-alerts-YYYY.MM.DD`, the UTC day of its effective (event)
time, with the alert id as document id. An alert's effective time never changes, so
every write of it lands on the same document: redelivery and re-indexing replace, never
duplicate. Sorting and time ranges use `effective_us` (microseconds since the epoch)
because OpenSearch `date` fields keep milliseconds, and the cursor must be exactly the
Postgres store's, so that both stores page alike."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from libs.common.alertstore.cursor import Position, epoch_micros
from libs.common.alertstore.model import (
    AlertDocument,
    AlertQuery,
    AlertRef,
    entity_keys,
)
from libs.common.contracts.detections import Severity
from libs.common.settings import OpenSearchSettings

KEYWORD = {"type": "keyword"}
DATE = {"type": "date", "format": "strict_date_optional_time||epoch_millis"}
# Kept in _source for `payload=true`, never indexed: payloads are large and foreign.
STORED_ONLY = {"type": "object", "enabled": False}
PAYLOAD_FIELDS = ("detection",)
# Indexed for queries, left out of what a search returns.
QUERY_ONLY_FIELDS = ("effective_us", "entity_keys")

MAPPING: dict[str, Any] = {
    # A field nobody declared is refused (a per-item 400), never guessed.
    "dynamic": "strict",
    "properties": {
        "alert_id": KEYWORD,
        "tenant_id": KEYWORD,
        "detection_id": KEYWORD,
        "case_id": KEYWORD,
        "title": {"type": "text", "fields": {"raw": {"type": "keyword", "ignore_above": 1024}}},
        "severity": KEYWORD,
        "rule_id": KEYWORD,
        "rule_name": KEYWORD,
        "host": KEYWORD,
        "source": KEYWORD,
        "group_key": KEYWORD,
        "event_time": DATE,
        "effective_time": DATE,
        "effective_us": {"type": "long"},
        "time_fallback": {"type": "boolean"},
        "ingested_at": DATE,
        "last_seen": DATE,
        "occurrence_count": {"type": "long"},
        "stored_at": DATE,
        # "type=value", folded like the Postgres index keys: host and entity filters.
        "entity_keys": KEYWORD,
        "detection": STORED_ONLY,
    },
}


def index_prefix(settings: OpenSearchSettings) -> str:
    return f"{settings.index_prefix}-alerts-"


def index_name(settings: OpenSearchSettings, effective_time: datetime) -> str:
    return f"{index_prefix(settings)}{effective_time.astimezone(UTC):%Y.%m.%d}"


def index_pattern(settings: OpenSearchSettings) -> str:
    return f"{index_prefix(settings)}*"


def template_name(settings: OpenSearchSettings) -> str:
    return f"{settings.index_prefix}-alerts"


def index_template(settings: OpenSearchSettings) -> dict[str, Any]:
    """A composable index template: every daily index gets this mapping on creation."""
    return {
        "index_patterns": [index_pattern(settings)],
        "priority": 100,
        "template": {
            "settings": {
                "number_of_shards": settings.number_of_shards,
                "number_of_replicas": settings.number_of_replicas,
            },
            "mappings": MAPPING,
        },
        "_meta": {"owner": "casestream", "layout": "alerts-daily-v1"},
    }


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def document_source(document: AlertDocument) -> dict[str, Any]:
    return {
        "alert_id": str(document.id),
        "tenant_id": document.tenant_id,
        "detection_id": document.detection_id,
        "case_id": None if document.case_id is None else str(document.case_id),
        "title": document.title,
        "severity": document.severity.value,
        "rule_id": document.rule_id,
        "rule_name": document.rule_name,
        "host": document.host,
        "source": document.source,
        "group_key": document.group_key,
        "event_time": _time(document.event_time),
        "effective_time": _time(document.effective_time),
        "effective_us": epoch_micros(document.effective_time),
        "time_fallback": document.time_fallback,
        "ingested_at": _time(document.ingested_at),
        "last_seen": _time(document.last_seen),
        "occurrence_count": document.occurrence_count,
        "stored_at": _time(document.stored_at),
        "entity_keys": entity_keys(document.detection, document.host),
        "detection": document.detection,
    }


def _versioned(action: dict[str, Any], version: int | None) -> dict[str, Any]:
    """external_gte: a write of an older read of the alert (two indexers racing) is
    refused with 409 instead of overwriting a newer one; the same version is accepted,
    so writing the same read again is harmless."""
    if version is not None:
        action.update(version=version, version_type="external_gte")
    return action


def index_action(
    settings: OpenSearchSettings, document: AlertDocument, version: int | None = None
) -> dict[str, Any]:
    """`index` (not `create`): writing an alert again replaces it with its newer state."""
    action = {
        "_op_type": "index",
        "_index": index_name(settings, document.effective_time),
        "_id": str(document.id),
        "_source": document_source(document),
    }
    return _versioned(action, version)


def delete_action(
    settings: OpenSearchSettings, ref: AlertRef, version: int | None = None
) -> dict[str, Any]:
    action = {
        "_op_type": "delete",
        "_index": index_name(settings, ref.effective_time),
        "_id": str(ref.id),
    }
    return _versioned(action, version)


def query_filter(tenant_id: str, query: AlertQuery) -> dict[str, Any]:
    """The bool filter of a search or count; the tenant term is always the first clause."""
    filters: list[dict[str, Any]] = [{"term": {"tenant_id": tenant_id}}]
    span: dict[str, int] = {}
    if query.start is not None:
        span["gte"] = epoch_micros(query.start)
    if query.end is not None:
        span["lt"] = epoch_micros(query.end)
    if span:
        filters.append({"range": {"effective_us": span}})
    if query.rule_id is not None:
        filters.append({"term": {"rule_id": query.rule_id}})
    host_key = query.host_key()
    if host_key is not None:
        filters.append({"term": {"entity_keys": host_key}})
    keys = query.entity_keys()
    if keys is not None:
        filters.append({"terms": {"entity_keys": keys}})
    return {"bool": {"filter": filters}}


def source_filter(payload: bool) -> dict[str, list[str]]:
    return {"excludes": [*QUERY_ONLY_FIELDS, *(() if payload else PAYLOAD_FIELDS)]}


def search_body(
    tenant_id: str, query: AlertQuery, after: Position | None, size: int, payload: bool
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "query": query_filter(tenant_id, query),
        "sort": [{"effective_us": "desc"}, {"alert_id": "desc"}],
        "size": size,
        "track_total_hits": False,
        "_source": source_filter(payload),
    }
    if after is not None:
        body["search_after"] = [after.epoch_micros, str(after.alert_id)]
    return body


def get_body(tenant_id: str, alert_id: uuid.UUID, payload: bool) -> dict[str, Any]:
    filters = [{"term": {"tenant_id": tenant_id}}, {"term": {"alert_id": str(alert_id)}}]
    return {"query": {"bool": {"filter": filters}}, "size": 1, "_source": source_filter(payload)}


def _parse_time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _required_time(value: str) -> datetime:
    return datetime.fromisoformat(value)


def document_from_source(source: dict[str, Any]) -> AlertDocument:
    case_id = source.get("case_id")
    return AlertDocument(
        id=uuid.UUID(source["alert_id"]),
        tenant_id=source["tenant_id"],
        detection_id=source["detection_id"],
        case_id=None if case_id is None else uuid.UUID(case_id),
        title=source["title"],
        severity=Severity(source["severity"]),
        rule_id=source["rule_id"],
        rule_name=source["rule_name"],
        host=source.get("host"),
        source=source["source"],
        group_key=source["group_key"],
        event_time=_parse_time(source.get("event_time")),
        effective_time=_required_time(source["effective_time"]),
        time_fallback=bool(source["time_fallback"]),
        ingested_at=_required_time(source["ingested_at"]),
        last_seen=_required_time(source["last_seen"]),
        occurrence_count=int(source["occurrence_count"]),
        stored_at=_required_time(source["stored_at"]),
        detection=source.get("detection"),
    )
