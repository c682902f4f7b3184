"""Native detection → DetectionV1. Pure functions, no I/O."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from libs.common.contracts.detections import (
    MAX_MATCHED_EVENTS,
    DetectionV1,
    EntityType,
    EntityV1,
    MitreV1,
    RuleRefV1,
    Severity,
)
from services.ingest.schemas import NativeDetection

FORMAT = "native"
MATCHED_EVENT_ID_LIMIT = 256
# Clock skew we tolerate before an event time counts as "in the future".
FUTURE_TOLERANCE = timedelta(minutes=5)

LEVEL_SEVERITY = {
    "informational": Severity.INFO,
    "info": Severity.INFO,
    "low": Severity.LOW,
    "medium": Severity.MEDIUM,
    "high": Severity.HIGH,
    "critical": Severity.CRITICAL,
}
OBSERVABLE_TYPES = {
    "hostname": EntityType.HOST,
    "fqdn": EntityType.HOST,
    "ip": EntityType.IP,
    "domain": EntityType.DOMAIN,
    "url": EntityType.URL,
    "hash": EntityType.HASH,
    "filename": EntityType.FILE,
    "file": EntityType.FILE,
    "mail": EntityType.EMAIL,
    "registry": EntityType.REGISTRY,
    "user": EntityType.USER,
    "user-account": EntityType.USER,
}


def fingerprint(document: dict[str, Any]) -> str:
    """Deterministic id for a detection whose source gave none: same content, same id."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), default=str)
    return "fp-" + hashlib.sha256(canonical.encode()).hexdigest()[:40]


def matched_events(values: Iterable[Any]) -> list[str]:
    """References to the source events a detection matched, as the contract takes them:
    strings and numbers only, each once in the order given, ids past the limit hashed (two
    long ids that share a prefix stay distinct), at most MAX_MATCHED_EVENTS: an alert over
    thousands of events keeps the first ones."""
    found: dict[str, None] = {}
    for value in values:
        if isinstance(value, bool) or not isinstance(value, str | int):
            continue
        ref = str(value).strip()
        if not ref:
            continue
        if len(ref) > MATCHED_EVENT_ID_LIMIT:
            ref = "id-" + hashlib.sha256(ref.encode()).hexdigest()[:40]
        found.setdefault(ref, None)
        if len(found) == MAX_MATCHED_EVENTS:
            break
    return list(found)


def normalize_native(
    item: NativeDetection, document: dict[str, Any], tenant_id: str, now: datetime
) -> DetectionV1:
    event_time = item.timestamp
    fallback = (
        event_time is None or event_time.tzinfo is None or event_time > now + FUTURE_TOLERANCE
    )
    return DetectionV1(
        tenant_id=tenant_id,
        detection_id=item.detection_id or fingerprint(document),
        source=item.source,
        format=FORMAT,
        title=item.rule.title,
        description=item.rule.description,
        rule=RuleRefV1(
            id=item.rule.id, name=item.rule.title, source=item.source, level=item.rule.level
        ),
        severity=LEVEL_SEVERITY.get((item.rule.level or "").lower(), Severity.MEDIUM),
        event_time=event_time if event_time is not None and event_time.tzinfo else None,
        effective_time=now if fallback or event_time is None else event_time,
        time_fallback=fallback,
        ingested_at=now,
        host=item.host.name if item.host else None,
        mitre=MitreV1(tactics=item.mitre.tactics, techniques=item.mitre.techniques),
        entities=_entities(item),
        matched_event_ids=matched_events(matched_event_refs(item, document)),
        raw=document,
    )


# Fields of a raw Windows event naming its record: EventRecordID (Windows, Winlogbeat),
# RecordNumber (NXLog); and fields carrying its own time.
RECORD_FIELDS = ("EventRecordID", "RecordNumber")
TIME_FIELDS = ("@timestamp", "TimeCreated", "UtcTime", "EventTime", "timestamp")


def matched_event_refs(item: NativeDetection, document: dict[str, Any]) -> list[str]:
    """The events the rule matched: the ids the sender lists, else the one event in `raw`.
    A Windows event is named by its record (`winlog:<computer>/<channel>/<record id>`, the
    computer lower-cased), which every rule firing on it shares; another raw event by a
    digest of its content (`event-sha256:...`), if it carries its own time: without a
    record or a time, identical events (a log cleared on two days) cannot be told apart."""
    if item.matched_event_ids:
        return item.matched_event_ids
    raw = document.get("raw")
    if not isinstance(raw, dict) or not raw:
        return []
    record = next((str(raw[f]) for f in RECORD_FIELDS if raw.get(f) not in (None, "")), None)
    computer = raw.get("Computer") or raw.get("Hostname")
    if record is not None and isinstance(computer, str) and computer:
        return [f"winlog:{computer.lower()}/{raw.get('Channel') or '-'}/{record}"]
    if not any(raw.get(f) for f in TIME_FIELDS):
        return []
    canonical = json.dumps(raw, sort_keys=True, separators=(",", ":"), default=str)
    return ["event-sha256:" + hashlib.sha256(canonical.encode()).hexdigest()[:40]]


def _entities(item: NativeDetection) -> list[EntityV1]:
    # The same entity from a fixed field and an observable counts once; the first role
    # seen wins. Keyed by (type, value): a detection can carry hundreds of observables.
    found: dict[tuple[EntityType, str], EntityV1] = {}

    def add(kind: EntityType, value: str | None, role: str | None) -> None:
        if value and (kind, value) not in found:
            # Constructed without validation: type and role are ours, the value is a
            # non-empty string clipped to the contract's limit (~10 per detection, hot).
            found[(kind, value)] = EntityV1.model_construct(
                type=kind, value=value[:2_048], role=role
            )

    add(EntityType.HOST, item.host.name if item.host else None, "target")
    add(EntityType.USER, _text(item.user, "name"), "actor")
    add(EntityType.PROCESS, _text(item.process, "image"), "actor")
    add(EntityType.FILE, _text(item.file, "path"), "target")
    add(EntityType.REGISTRY, _text(item.registry, "key"), "target")
    add(EntityType.IP, _text(item.network, "src_ip"), "src")
    add(EntityType.IP, _text(item.network, "dst_ip"), "dst")
    for observable in item.observables:
        add(
            OBSERVABLE_TYPES.get(observable.dataType.lower(), EntityType.OTHER),
            observable.data,
            None,
        )
    return list(found.values())


def _text(section: dict[str, Any] | None, field: str) -> str | None:
    if not section:
        return None
    value = section.get(field)
    return str(value) if value not in (None, "") else None
