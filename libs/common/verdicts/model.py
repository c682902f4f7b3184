"""Entity verdicts: an analyst's judgement of an entity value, shared by the cases API
(which records them) and alerting (which applies them). Pure."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from libs.common.contracts.detections import DetectionV1

# Values are compared lower-cased and cut like the case entity index (case_entities).
VALUE_LIMIT = 512


class Verdict(StrEnum):
    BENIGN = "benign"  # keeps the entity from opening new cases until it expires
    MALICIOUS = "malicious"  # raises open cases that contain it, and its new alerts


EntityKey = tuple[str, str]  # (entity type, folded value)


def entity_key(entity_type: str, value: str) -> EntityKey:
    return (entity_type, value.lower()[:VALUE_LIMIT])


def detection_entities(detection: DetectionV1) -> set[EntityKey]:
    """Every entity a detection names, its host included."""
    keys = {entity_key(e.type.value, e.value) for e in detection.entities}
    if detection.host:
        keys.add(entity_key("host", detection.host))
    return keys


def verdicts_on(
    detection: DetectionV1, verdicts: dict[EntityKey, Verdict]
) -> dict[Verdict, list[str]]:
    """The verdicts that apply to a detection, each with the entities that carry it."""
    found: dict[Verdict, list[str]] = {}
    if not verdicts:  # the usual batch: none of its entities has a verdict
        return found
    for kind, value in sorted(detection_entities(detection)):
        verdict = verdicts.get((kind, value))
        if verdict is not None:
            found.setdefault(verdict, []).append(f"{kind}={value}")
    return found


def all_entities(detections: Iterable[DetectionV1]) -> set[EntityKey]:
    return {key for detection in detections for key in detection_entities(detection)}
