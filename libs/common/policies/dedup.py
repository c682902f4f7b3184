"""Fingerprints: what makes two detections "the same alert" beyond their ids, under a
tenant's dedup policy. Pure."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from libs.common.contracts.detections import DetectionV1


def fingerprint(detection: DetectionV1, fields: Sequence[str]) -> str | None:
    """A digest of the named fields' values, or None when the policy names none. Field
    order does not matter; a missing value counts as missing, not as a wildcard."""
    if not fields:
        return None
    values = {field: _values(detection, field) for field in sorted(set(fields))}
    canonical = json.dumps(values, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def _values(detection: DetectionV1, field: str) -> list[str]:
    if field.startswith("entity."):
        kind = field.removeprefix("entity.")
        return sorted({e.value for e in detection.entities if e.type == kind})
    single = {
        "rule.id": detection.rule.id,
        "rule.name": detection.rule.name,
        "title": detection.title,
        "source": detection.source,
        "host": detection.host,
    }
    if field == "mitre.techniques":
        return sorted(detection.mitre.techniques)
    value = single.get(field)
    return [value] if value else []


@dataclass(frozen=True)
class Anchor:
    """The alert a fingerprint's repeats count on: its detection id and event time."""

    detection_id: str
    effective_time: datetime


def split_repeats(
    fresh: Sequence[DetectionV1],
    fingerprints: Mapping[str, str],
    anchors: Mapping[str, Anchor],
    window: timedelta,
) -> tuple[list[DetectionV1], list[tuple[DetectionV1, str]]]:
    """Fresh detections (new ids) into those that become alerts and those that repeat an
    alert of the same fingerprint within `window` of its event time: (detection, the
    detection id of the alert it counts on). In event-time order, so the first of a
    fingerprint in a batch becomes the alert the later ones count on."""
    known = dict(anchors)
    kept: list[DetectionV1] = []
    repeats: list[tuple[DetectionV1, str]] = []
    for detection in sorted(fresh, key=lambda d: d.effective_time):
        fp = fingerprints.get(detection.detection_id)
        anchor = known.get(fp) if fp else None
        if anchor is not None and abs(detection.effective_time - anchor.effective_time) <= window:
            repeats.append((detection, anchor.detection_id))
            continue
        if fp:
            known[fp] = Anchor(detection.detection_id, detection.effective_time)
        kept.append(detection)
    return kept, repeats
