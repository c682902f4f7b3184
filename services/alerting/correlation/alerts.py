"""A correlation hit as an alert: a synthetic `DetectionV1` that alerting groups and
stores like any other, so it lands in a case with provenance, audit events and alerts.v1.

Its detection id is derived from (rule, entity, window start) only, so a redelivered
batch, or a second instance racing on the same hit, produces the same id, and the
existing (tenant, detection_id) unique key stores it once."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from libs.common.contracts.detections import DetectionV1, EntityType, EntityV1, MitreV1, RuleRefV1
from services.alerting.correlation.rules import CorrelationRule
from services.alerting.correlation.state import Hit

CORRELATION_FORMAT = "correlation"
CORRELATION_SOURCE = "casestream/correlation"
CORRELATED_ROLE = "correlated"
MAX_ENTITIES = 200
MAX_GROUP_KEY = 1_024
MAX_HOST = 1_024


def entity_key(path: str, value: str) -> str:
    """How a rule's key is written in state, provenance and the alert: `entity.user=alice`."""
    return f"{path}={value}"


def split_entity_key(key: str) -> tuple[str, str]:
    path, _, value = key.partition("=")  # paths never contain "="
    return path, value


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def is_correlation(detection: DetectionV1) -> bool:
    return detection.format == CORRELATION_FORMAT and detection.source == CORRELATION_SOURCE


def correlation_group_key(detection: DetectionV1) -> str | None:
    """The grouping key of a correlation alert: one case per (rule, correlated entity)
    within the grouping window. None for every other detection."""
    if not is_correlation(detection):
        return None
    context = detection.raw.get("correlation", {})
    key = str(context.get("entity_key", "")) if isinstance(context, dict) else ""
    readable = f"correlation={detection.rule.id}|{key}"
    if len(readable) <= MAX_GROUP_KEY:
        return readable
    return f"correlation={detection.rule.id}|sha256={key_digest(key)}"


def correlation_detection_id(rule_id: str, key: str, window_start: datetime) -> str:
    start = window_start.astimezone(UTC).isoformat()
    digest = hashlib.sha256(f"{rule_id}\x00{key}\x00{start}".encode()).hexdigest()[:32]
    return f"correlation:{rule_id}:{digest}"


def correlation_detection(
    tenant_id: str,
    rule: CorrelationRule,
    key: str,
    hit: Hit,
    matched: Mapping[str, DetectionV1],
    now: datetime,
) -> DetectionV1:
    """The alert for one hit. `matched` holds the contributing detections that could be
    read back (their entities and techniques carry over to the alert)."""
    path, value = split_entity_key(key)
    contributing = [matched[i] for i in hit.detection_ids if i in matched]
    title = rule.title.replace("{entity}", value) if rule.title else f"{rule.name}: {value}"
    return DetectionV1(
        tenant_id=tenant_id,
        detection_id=correlation_detection_id(rule.id, key, hit.window_start),
        source=CORRELATION_SOURCE,
        format=CORRELATION_FORMAT,
        title=title[:1_024],
        description=_description(rule, key, hit),
        rule=RuleRefV1(id=rule.id, name=rule.name, source="correlation", level=rule.type),
        severity=rule.severity,
        event_time=hit.at,
        effective_time=hit.at,
        ingested_at=now,
        host=_host(path, value, contributing),
        mitre=MitreV1(
            tactics=_union([rule.mitre_tactics, *(d.mitre.tactics for d in contributing)]),
            techniques=_union([rule.mitre_techniques, *(d.mitre.techniques for d in contributing)]),
        ),
        entities=_entities(path, value, contributing),
        raw={"correlation": _context(rule, key, hit)},
    )


def _context(rule: CorrelationRule, key: str, hit: Hit) -> dict[str, Any]:
    path, value = split_entity_key(key)
    return {
        "rule_id": rule.id,
        "rule_name": rule.name,
        "type": rule.type,
        "rule_fingerprint": rule.fingerprint(),
        "entity_key": key,
        "key": {"path": path, "value": value},
        "window": {
            "start": hit.window_start.isoformat(),
            "end": hit.window_end.isoformat(),
            "measured_on": "event_time",
        },
        "completed_at": hit.at.isoformat(),
        "matched_detection_ids": hit.detection_ids,
        "matched_count": hit.matched_count,
        "details": hit.details,
    }


def _description(rule: CorrelationRule, key: str, hit: Hit) -> str:
    summary = (
        f"Correlation rule `{rule.id}` ({rule.type}) on {key}: {hit.matched_count} "
        f"detection(s) between {hit.window_start.isoformat()} and {hit.window_end.isoformat()}."
    )
    return f"{rule.description}\n\n{summary}" if rule.description else summary


def _host(path: str, value: str, contributing: list[DetectionV1]) -> str | None:
    if path == f"entity.{EntityType.HOST.value}":
        return value if len(value) <= MAX_HOST else None
    hosts = {d.host for d in contributing if d.host}
    return hosts.pop() if len(hosts) == 1 else None


def _entities(path: str, value: str, contributing: list[DetectionV1]) -> list[EntityV1]:
    found: dict[tuple[str, str, str | None], EntityV1] = {}
    head, _, entity_type = path.partition(".")
    if head == "entity":
        own = EntityV1(type=EntityType(entity_type), value=value, role=CORRELATED_ROLE)
        found[(own.type, own.value, own.role)] = own
    for detection in contributing:
        for entity in detection.entities:
            found.setdefault((entity.type, entity.value, entity.role), entity)
    return list(found.values())[:MAX_ENTITIES]


def _union(lists: list[list[str]]) -> list[str]:
    return list(dict.fromkeys(item for items in lists for item in items))
