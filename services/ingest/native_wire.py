"""Native detections from request bytes to detections.v1 bytes without Python dicts: the
fast path of ingest, for the shape most traffic (and `make bench-ingest`) sends.

msgspec decodes one document's bytes into Structs that carry the limits of both
`NativeDetection` and `DetectionV1`; the message is encoded from Structs with the
document's own bytes as `raw`, never parsed into objects nor encoded again. Whatever
this path is not sure to treat exactly as the pydantic path does gives None, and the
caller takes the pydantic path, which also words every rejection: another format's
markers, a value outside a limit, a timestamp to read, entity rules to apply, no
detection id. tests/ingest/test_native_wire.py holds both paths to the same output."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, NamedTuple, cast

import msgspec
from msgspec import UNSET, Meta, Raw, Struct, UnsetType
from pydantic import TypeAdapter, ValidationError

from libs.common.contracts.detections import detection_partition_key
from services.ingest.adapters import (
    SNIFF_KEYS,
    SNIFF_PREFIXES,
    AdapterError,
    FormatAdapter,
    adapter_named,
    detect_adapter,
)
from services.ingest.entity_rules import EntityExtractor
from services.ingest.normalize import (
    FORMAT,
    matched_event_refs,
    matched_events,
    native_entities,
    native_severity_text,
    native_times,
)

# The limits of NativeDetection, tightened where DetectionV1's are tighter: the rule
# title is also the contract's rule name (512). Past one, the pydantic path rejects.
IdText = Annotated[str, Meta(min_length=1, max_length=256)]
TitleText = Annotated[str, Meta(min_length=1, max_length=512)]
LevelText = Annotated[str, Meta(max_length=32)]
DescriptionText = Annotated[str, Meta(max_length=65_536)]
HostText = Annotated[str, Meta(min_length=1, max_length=1_024)]
SourceText = Annotated[str, Meta(min_length=1, max_length=128)]
DataTypeText = Annotated[str, Meta(max_length=64)]
ObservableText = Annotated[str, Meta(min_length=1, max_length=2_048)]
Words = Annotated[list[str], Meta(max_length=256)]


class RuleIn(Struct):
    id: IdText
    title: TitleText
    # UNSET when absent: sniffing asks whether these keys are there (wazuh's marker).
    level: LevelText | UnsetType | None = UNSET
    description: DescriptionText | UnsetType | None = UNSET
    tags: Words = []


class MitreIn(Struct):
    techniques: Words = []
    tactics: Words = []


class HostIn(Struct):
    name: HostText


class ObservableIn(Struct):
    dataType: DataTypeText
    data: ObservableText
    tags: list[str] = []


class NativeIn(Struct):
    rule: RuleIn
    detection_id: IdText | None = None
    # Read by pydantic, as the pydantic path reads it (formats, offsets, leap seconds).
    timestamp: str | None = None
    source: SourceText = "native"
    mitre: MitreIn = msgspec.field(default_factory=MitreIn)
    host: HostIn | None = None
    user: dict[str, Any] | None = None
    process: dict[str, Any] | None = None
    network: dict[str, Any] | None = None
    file: dict[str, Any] | None = None
    registry: dict[str, Any] | None = None
    observables: Annotated[list[ObservableIn], Meta(max_length=1_000)] = []
    matched_event_ids: Annotated[list[str], Meta(max_length=64)] = []
    # The original event, kept as its bytes: read only to name the event the rule matched.
    raw: Raw = Raw(b"")


# The document again, with every other top-level key a format matcher reads kept as its
# bytes (empty when absent), to sniff the format with the matchers themselves.
_MARKERS = tuple(sorted(SNIFF_KEYS - {"rule"}))
_NativeDocument = cast(
    "type[NativeIn]",
    msgspec.defstruct(
        "NativeDocument",
        [(f"marker_{n}", Raw, Raw(b"")) for n in range(len(_MARKERS))],
        bases=(NativeIn,),
        rename={f"marker_{n}": key for n, key in enumerate(_MARKERS)},
    ),
)
_MARKERS_FROM = len(NativeIn.__struct_fields__)


class RuleOut(Struct):
    id: str
    name: str
    source: str | None
    level: str | None


class MitreOut(Struct):
    tactics: list[str]
    techniques: list[str]


class EntityOut(Struct):
    type: str  # an EntityType value
    value: str
    role: str | None


class DetectionOut(Struct):
    """`DetectionV1` as written on the wire, fields in its order (a test checks)."""

    schema_version: int
    tenant_id: str
    detection_id: str
    occurrence_id: str
    source: str
    format: str
    title: str
    description: str | None
    rule: RuleOut
    severity: str  # a Severity value
    priority: int | None
    # Datetimes come pre-encoded by pydantic, so they read exactly as the model writes them.
    event_time: Raw
    effective_time: Raw
    time_fallback: bool
    ingested_at: Raw
    host: str | None
    mitre: MitreOut
    entities: list[EntityOut]
    matched_event_ids: list[str]
    raw: Raw


class WireDetection(NamedTuple):
    detection_id: str
    partition_key: bytes
    value: bytes


class WireBatch:
    """What the detections of one request share: tenant, ingest time (encoded once)."""

    def __init__(self, tenant_id: str, now: datetime) -> None:
        self.tenant_id = tenant_id
        self.now = now
        self.now_json = Raw(_DATETIME.dump_json(now))
        # The pydantic path gets the tenant id checked by DetectionV1; here it is checked
        # once per request (it comes from a credential, so this always holds).
        self.tenant_fits = 1 <= len(tenant_id) <= 64


_DATETIME: TypeAdapter[datetime] = TypeAdapter(datetime)
_NULL = Raw(b"null")
_DECODER = msgspec.json.Decoder(_NativeDocument)
_VALUE_DECODER = msgspec.json.Decoder()
_KEYS_DECODER = msgspec.json.Decoder(dict[str, Raw])
_ENCODER = msgspec.json.Encoder()
_NATIVE = adapter_named(FORMAT)


class NativeWire:
    """The fast path; the caller checks the message's size as for the pydantic path."""

    def __init__(self, extractor: EntityExtractor) -> None:
        self._extractor = extractor

    def encode(
        self,
        raw: Raw,
        batch: WireBatch,
        occurrence_id: str,
        declared: FormatAdapter | None,
        list_keys: bool,
    ) -> WireDetection | None:
        """The message for one document, or None for the pydantic path. `list_keys`: the
        body may hold a key that starts with a sniff prefix (see `may_hold_prefixed_keys`)."""
        if declared is not None and declared is not _NATIVE:
            return None
        try:
            item = _DECODER.decode(raw)
        except (msgspec.DecodeError, RecursionError):  # ValidationError is a DecodeError
            return None
        if item.detection_id is None or not batch.tenant_fits:
            return None  # the content fingerprint needs the document as dicts
        if declared is None and not _sniffs_native(item, raw, list_keys):
            return None
        if self._extractor.has_rules_for(item.source, FORMAT):
            return None  # JSONPath rules read the document as dicts
        try:
            timestamp = (
                None if item.timestamp is None else _DATETIME.validate_python(item.timestamp)
            )
        except ValidationError:
            return None
        value = self._message(item, raw, batch, occurrence_id, timestamp)
        if value is None:
            return None
        host = item.host.name if item.host else None
        return WireDetection(
            item.detection_id, detection_partition_key(batch.tenant_id, host), value
        )

    def _message(
        self,
        item: NativeIn,
        raw: Raw,
        batch: WireBatch,
        occurrence_id: str,
        timestamp: datetime | None,
    ) -> bytes | None:
        event_time, effective_time, fallback = native_times(timestamp, batch.now)
        event = _original_event(item.raw)
        if event is _UNREADABLE:
            return None  # the pydantic path names the problem
        event_json = _NULL if event_time is None else Raw(_DATETIME.dump_json(event_time))
        rule = item.rule
        level = None if rule.level is UNSET else rule.level
        out = DetectionOut(
            schema_version=1,
            tenant_id=batch.tenant_id,
            detection_id=item.detection_id or "",
            occurrence_id=occurrence_id,
            source=item.source,
            format=FORMAT,
            title=rule.title,
            description=None if rule.description is UNSET else rule.description,
            rule=RuleOut(id=rule.id, name=rule.title, source=item.source, level=level),
            severity=native_severity_text(level),
            priority=None,
            event_time=event_json,
            effective_time=batch.now_json if effective_time is batch.now else event_json,
            time_fallback=fallback,
            ingested_at=batch.now_json,
            host=item.host.name if item.host else None,
            mitre=MitreOut(tactics=item.mitre.tactics, techniques=item.mitre.techniques),
            entities=[EntityOut(kind, value, role) for kind, value, role in native_entities(item)],
            matched_event_ids=matched_events(matched_event_refs(item.matched_event_ids, event)),
            raw=raw,
        )
        try:
            return _ENCODER.encode(out)
        except (msgspec.EncodeError, UnicodeEncodeError):
            return None


_UNREADABLE = object()


def _original_event(raw: Raw) -> Any:
    """The document's `raw` event as the pydantic path reads it (json.loads), for naming
    the event the rule matched; msgspec first, the stdlib where msgspec refuses a value
    (a number past the float range)."""
    if not raw:
        return None
    try:
        return _VALUE_DECODER.decode(raw)
    except (msgspec.DecodeError, RecursionError):
        pass
    try:
        return json.loads(bytes(raw))
    except (ValueError, RecursionError):
        return _UNREADABLE


def _sniffs_native(item: NativeIn, raw: Raw, list_keys: bool) -> bool:
    """Whether `detect_adapter` picks the native adapter for this document: asked of the
    matchers themselves, on the document cut down to the keys they read."""
    values = msgspec.structs.astuple(item)[_MARKERS_FROM:]
    view: dict[str, Any] = {}
    try:
        for key, value in zip(_MARKERS, values, strict=True):
            if value:  # a present key is never empty bytes
                view[key] = _VALUE_DECODER.decode(value)
        if list_keys:
            for key, value in _KEYS_DECODER.decode(raw).items():
                if key.startswith(SNIFF_PREFIXES):
                    view[key] = _VALUE_DECODER.decode(value)
    except (msgspec.DecodeError, RecursionError):
        return False
    rule = item.rule
    view["rule"] = {
        "id": rule.id,
        "title": rule.title,
        **({} if rule.level is UNSET else {"level": rule.level}),
        **({} if rule.description is UNSET else {"description": rule.description}),
    }
    try:
        return detect_adapter(view) is _NATIVE
    except AdapterError:
        return False
