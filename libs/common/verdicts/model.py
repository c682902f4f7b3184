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
    """Every entity a detection names, its host included. `entity_key` written out:
    alerting calls this for every detection, ~5 entities each, and str() of the enum is
    a C call where `.value` is a Python property (5.9 -> 4.1 µs a real detection)."""
    keys = {(str(e.type), e.value.lower()[:VALUE_LIMIT]) for e in detection.entities}
    if detection.host:
        keys.add(entity_key("host", detection.host))
    return keys


class BatchEntities:
    """Each detection's entity keys (sorted), computed once for a batch: alerting needs
    them to find the batch's verdicts, to judge each detection, and for each alert row.
    Keyed by the detection object, which it holds, so an id is never reused."""

    def __init__(self, detections: Iterable[DetectionV1] = ()) -> None:
        self._known: dict[int, tuple[DetectionV1, tuple[EntityKey, ...]]] = {}
        for detection in detections:
            self.of(detection)

    def of(self, detection: DetectionV1) -> tuple[EntityKey, ...]:
        known = self._known.get(id(detection))
        if known is None:
            known = (detection, tuple(sorted(detection_entities(detection))))
            self._known[id(detection)] = known
        return known[1]

    def all(self) -> set[EntityKey]:
        return {key for _, keys in self._known.values() for key in keys}


def verdicts_on(
    entities: Iterable[EntityKey], verdicts: dict[EntityKey, Verdict]
) -> dict[Verdict, list[str]]:
    """The verdicts that apply to a detection of these entities (sorted), each with the
    entities that carry it."""
    found: dict[Verdict, list[str]] = {}
    if not verdicts:  # the usual batch: none of its entities has a verdict
        return found
    for kind, value in entities:
        verdict = verdicts.get((kind, value))
        if verdict is not None:
            found.setdefault(verdict, []).append(f"{kind}={value}")
    return found
