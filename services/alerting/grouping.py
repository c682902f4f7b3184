"""Pure grouping rules: which detections share a case, and how a case is titled."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from libs.common.casestore.lifecycle import OPEN_STATUSES
from libs.common.contracts.cases import CaseStatus
from libs.common.contracts.detections import DetectionV1
from services.alerting.repository import OpenSlot


def group_key(detection: DetectionV1) -> str:
    """Skeleton policy: one case per (host, rule) within the window (tenant kept apart)."""
    return f"host={detection.host or '-'}|rule={detection.rule.id}"


@dataclass
class Segment:
    """Detections of one group key that go to one case: an existing one or a new one."""

    case_id: uuid.UUID | None
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
        current = Segment(case_id=None, detections=[detection])
        span = (at, at)
    if current is not None and current.detections:
        segments.append(current)
    return segments


def _usable_span(slot: OpenSlot | None) -> tuple[datetime, datetime] | None:
    if slot is None or CaseStatus(slot.case_status) not in OPEN_STATUSES:
        return None
    return (slot.window_start, slot.window_end)


def case_title(detection: DetectionV1) -> str:
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
