"""Scoring cases against ground truth: one recording of the corpus = one incident.

Pure functions: which case each detection ended in, against which incident it came from.
Ground truth is read for scoring only; grouping never sees it."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class TriageScore:
    detections: int
    incidents: int
    cases: int
    detections_per_case_mean: float
    detections_per_case_median: float
    # Share of detections that sit in a case whose majority incident is theirs.
    purity: float
    # Share of cases that hold detections of one incident only.
    pure_cases: float
    # Share of detections that sit in the case holding most of their incident.
    completeness: float
    # Share of incidents whose detections all sit in one case.
    whole_incidents: float
    cases_per_incident_mean: float

    def as_dict(self) -> dict[str, Any]:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items()}


def score(case_of: Mapping[str, str], incident_of: Mapping[str, str]) -> TriageScore:
    """`case_of`: detection id → case id (what the pipeline did); `incident_of`: detection
    id → incident (ground truth). Detections missing from either side are not scored."""
    scored = [d for d in case_of if d in incident_of]
    if not scored:
        raise ValueError("no detection is both grouped and in the ground truth")
    by_case: dict[str, Counter[str]] = defaultdict(Counter)
    by_incident: dict[str, Counter[str]] = defaultdict(Counter)
    for detection in scored:
        by_case[case_of[detection]][incident_of[detection]] += 1
        by_incident[incident_of[detection]][case_of[detection]] += 1
    sizes = [sum(incidents.values()) for incidents in by_case.values()]
    total = len(scored)
    return TriageScore(
        detections=total,
        incidents=len(by_incident),
        cases=len(by_case),
        detections_per_case_mean=total / len(by_case),
        detections_per_case_median=float(statistics.median(sizes)),
        purity=sum(max(c.values()) for c in by_case.values()) / total,
        pure_cases=sum(len(c) == 1 for c in by_case.values()) / len(by_case),
        completeness=sum(max(c.values()) for c in by_incident.values()) / total,
        whole_incidents=sum(len(c) == 1 for c in by_incident.values()) / len(by_incident),
        cases_per_incident_mean=sum(len(c) for c in by_incident.values()) / len(by_incident),
    )
