"""What every format adapter shares: the error, the protocol, and the final assembly into
`DetectionV1` with the same time rules as the native path."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol

from pydantic import ValidationError

from libs.common.contracts.detections import DetectionV1, MitreV1, RuleRefV1, Severity
from services.ingest.adapters.fields import EntityBag, MitreSet, clip
from services.ingest.normalize import FUTURE_TOLERANCE, fingerprint, matched_events

# Contract limits of DetectionV1 / RuleRefV1, applied before validation so that a long
# but otherwise fine alert is clipped rather than rejected.
ID_LIMIT = 256
TITLE_LIMIT = 1_024
RULE_NAME_LIMIT = 512
SOURCE_LIMIT = 128
LEVEL_LIMIT = 32
DESCRIPTION_LIMIT = 65_536


class AdapterError(ValueError):
    """A document this adapter cannot turn into a detection; the text says why."""

    @property
    def reason(self) -> str:
        return str(self)


def describe_validation_error(error: ValidationError) -> str:
    """Pydantic's problems as `field.path: message; ...`, at most five of them."""
    problems = []
    for item in error.errors()[:5]:
        where = ".".join(str(part) for part in item["loc"]) or "(root)"
        problems.append(f"{where}: {item['msg']}")
    return "; ".join(problems)


def reject(format_name: str, problem: str) -> AdapterError:
    """The one way adapters word a rejection: `<format>: <problem>`."""
    return AdapterError(f"{format_name}: {problem}")


class FormatAdapter(Protocol):
    name: str

    def matches(self, document: dict[str, Any]) -> bool: ...

    def normalize(self, document: dict[str, Any], tenant_id: str, now: datetime) -> DetectionV1: ...


def bounded_id(value: str | None, document: dict[str, Any]) -> str:
    """The source's id when it has a usable one, else the native content fingerprint.
    Ids past the contract limit are hashed rather than cut, so two long ids that share a
    prefix stay distinct."""
    if not value:
        return fingerprint(document)
    if len(value) <= ID_LIMIT:
        return value
    return "id-" + hashlib.sha256(value.encode()).hexdigest()[:40]


def short_hash(value: Any) -> str:
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def assemble(
    format_name: str,
    document: dict[str, Any],
    tenant_id: str,
    now: datetime,
    *,
    detection_id: str | None,
    source: str,
    title: str,
    rule_id: str,
    rule_name: str,
    rule_level: str | None,
    severity: Severity,
    priority: int | None,
    event_time: datetime | None,
    host: str | None,
    description: str | None = None,
    mitre: MitreSet | None = None,
    entities: EntityBag | None = None,
    matched_event_ids: Iterable[Any] = (),
) -> DetectionV1:
    """Build the contract object. Time rules are the native ones: no time, a naive time or
    one further ahead than FUTURE_TOLERANCE falls back to ingest time."""
    usable = event_time if event_time is not None and event_time.tzinfo is not None else None
    fallback = usable is None or usable > now + FUTURE_TOLERANCE
    try:
        return DetectionV1(
            tenant_id=tenant_id,
            detection_id=bounded_id(detection_id, document),
            source=clip(source, SOURCE_LIMIT) or format_name,
            format=format_name,
            title=clip(title, TITLE_LIMIT) or format_name,
            description=clip(description, DESCRIPTION_LIMIT),
            rule=RuleRefV1(
                id=bounded_id(rule_id, {"rule": rule_name}),
                name=clip(rule_name, RULE_NAME_LIMIT) or rule_id[:RULE_NAME_LIMIT],
                source=clip(source, SOURCE_LIMIT),
                level=clip(rule_level, LEVEL_LIMIT),
            ),
            severity=severity,
            priority=priority,
            event_time=usable,
            effective_time=now if fallback or usable is None else usable,
            time_fallback=fallback,
            ingested_at=now,
            host=clip(host, TITLE_LIMIT),
            mitre=mitre.to_contract() if mitre else MitreV1(),
            entities=entities.items if entities else [],
            matched_event_ids=matched_events(matched_event_ids),
            raw=document,
        )
    except ValidationError as error:
        # Only reachable through values we pass through unchecked (tenant id); still a
        # rejection with a reason, never a crash.
        problems = "; ".join(
            f"{'.'.join(str(p) for p in item['loc']) or '(root)'}: {item['msg']}"
            for item in error.errors()[:3]
        )
        raise reject(format_name, f"invalid detection: {problems}") from error
