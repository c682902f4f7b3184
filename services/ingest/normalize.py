"""Native detection → DetectionV1. Pure functions, no I/O."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

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


# The same tables keyed and valued by plain strings, for the per-detection work: an enum
# member hashes and reads its value through Python code (microseconds on this path).
_SEVERITY_TEXT = {word: severity.value for word, severity in LEVEL_SEVERITY.items()}
_OBSERVABLE_KINDS = {data_type: kind.value for data_type, kind in OBSERVABLE_TYPES.items()}
ENTITY_TYPES = {kind.value: kind for kind in EntityType}
_HOST, _USER, _PROCESS, _FILE, _REGISTRY, _IP, _OTHER = (
    EntityType.HOST.value,
    EntityType.USER.value,
    EntityType.PROCESS.value,
    EntityType.FILE.value,
    EntityType.REGISTRY.value,
    EntityType.IP.value,
    EntityType.OTHER.value,
)


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


class _NamedHost(Protocol):
    @property
    def name(self) -> str: ...


class _Observable(Protocol):
    @property
    def dataType(self) -> str: ...

    @property
    def data(self) -> str: ...


class NativeEntityFields(Protocol):
    """What entities are taken from: `NativeDetection` and the fast path's Struct alike."""

    @property
    def host(self) -> _NamedHost | None: ...

    @property
    def user(self) -> dict[str, Any] | None: ...

    @property
    def process(self) -> dict[str, Any] | None: ...

    @property
    def file(self) -> dict[str, Any] | None: ...

    @property
    def registry(self) -> dict[str, Any] | None: ...

    @property
    def network(self) -> dict[str, Any] | None: ...

    @property
    def observables(self) -> Sequence[_Observable]: ...


def native_severity(level: str | None) -> Severity:
    return LEVEL_SEVERITY.get((level or "").lower(), Severity.MEDIUM)


def native_severity_text(level: str | None) -> str:
    """`native_severity(level).value`, without touching the enum."""
    return _SEVERITY_TEXT.get((level or "").lower(), "medium")


def native_times(
    event_time: datetime | None, now: datetime
) -> tuple[datetime | None, datetime, bool]:
    """(event time, effective time, time fallback): no time, a naive time or one further
    ahead than FUTURE_TOLERANCE falls back to ingest time."""
    fallback = (
        event_time is None or event_time.tzinfo is None or event_time > now + FUTURE_TOLERANCE
    )
    return (
        event_time if event_time is not None and event_time.tzinfo else None,
        now if fallback or event_time is None else event_time,
        fallback,
    )


def normalize_native(
    item: NativeDetection, document: dict[str, Any], tenant_id: str, now: datetime
) -> DetectionV1:
    event_time, effective_time, fallback = native_times(item.timestamp, now)
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
        severity=native_severity(item.rule.level),
        event_time=event_time,
        effective_time=effective_time,
        time_fallback=fallback,
        ingested_at=now,
        host=item.host.name if item.host else None,
        mitre=MitreV1(tactics=item.mitre.tactics, techniques=item.mitre.techniques),
        # Constructed without validation: type and role are ours, the value is a
        # non-empty string clipped to the contract's limit (~10 per detection, hot).
        entities=[
            EntityV1.model_construct(type=ENTITY_TYPES[kind], value=value, role=role)
            for kind, value, role in native_entities(item)
        ],
        matched_event_ids=matched_events(
            matched_event_refs(item.matched_event_ids, document.get("raw"))
        ),
        raw=document,
    )


# Fields of a raw Windows event naming its record: EventRecordID (Windows, Winlogbeat),
# RecordNumber (NXLog); and fields carrying its own time.
RECORD_FIELDS = ("EventRecordID", "RecordNumber")
TIME_FIELDS = ("@timestamp", "TimeCreated", "UtcTime", "EventTime", "timestamp")


def matched_event_refs(given: Sequence[str], raw: Any) -> list[str]:
    """The events the rule matched: the ids the sender lists, else the one event in `raw`.
    A Windows event is named by its record (`winlog:<computer>/<channel>/<record id>`, the
    computer lower-cased), which every rule firing on it shares; another raw event by a
    digest of its content (`event-sha256:...`), if it carries its own time: without a
    record or a time, identical events (a log cleared on two days) cannot be told apart."""
    if given:
        return list(given)
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


def native_entities(item: NativeEntityFields) -> list[tuple[str, str, str | None]]:
    """(type, value, role) of each entity, the type as its `EntityType` value, values
    clipped to the contract's limit. The same entity from a fixed field and an observable
    counts once; the first role seen wins. Keyed by (type, value): a detection can carry
    hundreds of observables."""
    candidates: list[tuple[str, str | None, str | None]] = [
        (_HOST, item.host.name if item.host else None, "target"),
        (_USER, _text(item.user, "name"), "actor"),
        (_PROCESS, _text(item.process, "image"), "actor"),
        (_FILE, _text(item.file, "path"), "target"),
        (_REGISTRY, _text(item.registry, "key"), "target"),
        (_IP, _text(item.network, "src_ip"), "src"),
        (_IP, _text(item.network, "dst_ip"), "dst"),
    ]
    candidates += [
        (_OBSERVABLE_KINDS.get(observable.dataType.lower(), _OTHER), observable.data, None)
        for observable in item.observables
    ]
    found: dict[tuple[str, str], str | None] = {}
    for kind, value, role in candidates:
        if value and (kind, value) not in found:
            found[kind, value] = role
    return [(kind, value[:2_048], role) for (kind, value), role in found.items()]


def _text(section: dict[str, Any] | None, field: str) -> str | None:
    if not section:
        return None
    value = section.get(field)
    return str(value) if value not in (None, "") else None
