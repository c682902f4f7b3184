"""Pure grouping rules: which detections share a case, and how a case is titled."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from libs.common.casestore.lifecycle import OPEN_STATUSES
from libs.common.contracts.cases import CaseStatus
from libs.common.contracts.detections import DetectionV1
from services.alerting.correlation.alerts import correlation_group_key, is_correlation
from services.alerting.repository import OpenSlot

# The one policy so far; recorded on every alert so a later policy change stays explainable.
POLICY_NAME = "host-and-rule"
POLICY_VERSION = 1


class Reason(StrEnum):
    """Why a detection went where it went; recorded on its alert."""

    JOINED_OPEN_CASE = "joined_open_case"  # within the window of an open case of its key
    NO_CASE_FOR_KEY = "no_case_for_key"  # first detection of its key
    PREVIOUS_CASE_CLOSED = "previous_case_closed"  # the key's case is resolved or closed
    OUTSIDE_WINDOW = "outside_window"  # further from the key's case than the window


def group_key(detection: DetectionV1) -> str:
    """Skeleton policy: one case per (host, rule) within the window (tenant kept apart).
    Correlation alerts: one case per (correlation rule, correlated entity)."""
    return (
        correlation_group_key(detection) or f"host={detection.host or '-'}|rule={detection.rule.id}"
    )


def provenance(
    detection: DetectionV1, key: str, window: timedelta, reason: Reason, opened: bool
) -> dict[str, Any]:
    return {
        "policy": POLICY_NAME,
        "policy_version": POLICY_VERSION,
        "group_key": key,
        "key": {"host": detection.host, "rule_id": detection.rule.id},
        "window": {
            "kind": "sliding",
            "seconds": int(window.total_seconds()),
            "measured_on": "event_time",
        },
        "event_time": detection.effective_time.isoformat(),
        "time_fallback": detection.time_fallback,
        "decision": "opened_case" if opened else "joined_case",
        "reason": reason.value,
    }


@dataclass
class Segment:
    """Detections of one group key that go to one case: an existing one or a new one."""

    case_id: uuid.UUID | None
    # Why the segment's first detection did not join the key's earlier case (new cases).
    reason: Reason = Reason.JOINED_OPEN_CASE
    detections: list[DetectionV1] = field(default_factory=list)


def plan_segments(
    slot: OpenSlot | None, detections: list[DetectionV1], window: timedelta
) -> list[Segment]:
    """Split a key's new detections (sorted by time) into cases, sliding-window style.

    A detection joins the slot's case while that case is open and its time lies within
    `window` of the case's span; a gap longer than the window starts a new case."""
    segments: list[Segment] = []
    span = _usable_span(slot)
    current = Segment(case_id=slot.case_id) if span and slot is not None else None
    for detection in sorted(detections, key=lambda d: d.effective_time):
        at = detection.effective_time
        if current is not None and span and span[0] - window <= at <= span[1] + window:
            current.detections.append(detection)
            span = (min(span[0], at), max(span[1], at))
            continue
        if current is not None and current.detections:
            segments.append(current)
        reason = _why_new(slot, current, span)
        current = Segment(case_id=None, reason=reason, detections=[detection])
        span = (at, at)
    if current is not None and current.detections:
        segments.append(current)
    return segments


def _why_new(
    slot: OpenSlot | None, current: Segment | None, span: tuple[datetime, datetime] | None
) -> Reason:
    if current is None and slot is None:
        return Reason.NO_CASE_FOR_KEY
    if current is None and span is None:
        return Reason.PREVIOUS_CASE_CLOSED
    return Reason.OUTSIDE_WINDOW


def _usable_span(slot: OpenSlot | None) -> tuple[datetime, datetime] | None:
    if slot is None or CaseStatus(slot.case_status) not in OPEN_STATUSES:
        return None
    return (slot.window_start, slot.window_end)


def case_title(detection: DetectionV1) -> str:
    if is_correlation(detection):  # titled by its rule, after the correlated entity
        return detection.title[:1_024]
    return f"{detection.rule.name} on {detection.host or 'unknown host'}"[:1_024]


def case_description(detection: DetectionV1) -> str:
    lines = [f"**Rule:** {detection.rule.name} (`{detection.rule.id}`)"]
    if detection.host:
        lines.append(f"**Host:** {detection.host}")
    if detection.mitre.techniques:
        lines.append("**MITRE ATT&CK:** " + ", ".join(detection.mitre.techniques))
    if detection.description:
        lines.append("")
        lines.append(detection.description)
    return "\n".join(lines)
