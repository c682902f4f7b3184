"""Backtest: replay stored detections through a candidate alerting policy, in memory, and
compare the cases it would make with the cases that exist. Pure; nothing is written.

The replay is the ideal run of the policy: every detection of the range at once, in
event-time order, starting from no open case. Live grouping saw them in batches and
may have started from cases opened before the range, so an unchanged policy can still
differ a little at the range's edges. Correlation alerts are left out: they are made
by correlation rules, not by the grouping policy."""

from __future__ import annotations

import statistics
import uuid
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from libs.common.contracts.detections import DetectionV1
from libs.common.policies.alerting import AlertingPolicy, Strategy
from libs.common.policies.chaining import in_chain_order, plan_chains
from libs.common.policies.grouping import Reason, Segment, group_key, plan_segments


@dataclass(frozen=True)
class StoredDetection:
    detection: DetectionV1
    live_case_id: uuid.UUID | None  # None: stored without a case


@dataclass(frozen=True)
class WouldBeCase:
    group_key: str
    detections: int
    first_event: datetime
    last_event: datetime
    rules: list[str]
    # The live cases its detections are in now (empty: none of them has a case).
    live_case_ids: list[uuid.UUID]


@dataclass(frozen=True)
class Sizes:
    cases: int
    mean: float
    median: float
    largest: int


@dataclass(frozen=True)
class Difference:
    # Candidate cases whose detections are exactly one live case's.
    unchanged_cases: int
    # Live cases whose detections would be spread over several candidate cases.
    split_live_cases: int
    # Candidate cases that would hold detections of several live cases.
    merged_candidate_cases: int
    # Detections that would not sit with the majority of their live case.
    moved_detections: int
    # Detections with a case now and none under the candidate, and the other way round.
    newly_uncased: int
    newly_cased: int


@dataclass(frozen=True)
class BacktestReport:
    detections: int
    live: Sizes
    candidate: Sizes
    uncased: dict[str, int]  # under the candidate, by reason
    difference: Difference
    cases: list[WouldBeCase]  # largest first, at most `listed`


def backtest(
    stored: Sequence[StoredDetection], policy: AlertingPolicy, listed: int = 50
) -> BacktestReport:
    replayed = [s for s in stored if s.detection.format != "correlation"]
    live_of = {s.detection.detection_id: s.live_case_id for s in replayed}
    segments = _replay([s.detection for s in replayed], policy)
    cased = [(key, seg) for key, seg in segments if seg.held is None]
    candidate_of = {
        d.detection_id: index for index, (_, seg) in enumerate(cased) for d in seg.detections
    }
    uncased = Counter(seg.held.value for _, seg in segments if seg.held is not None)
    cases = [_would_be(key, seg, live_of) for key, seg in cased]
    cases.sort(key=lambda c: (-c.detections, c.first_event))
    return BacktestReport(
        detections=len(replayed),
        live=_sizes(Counter(c for c in live_of.values() if c is not None)),
        candidate=_sizes(Counter(candidate_of.values())),
        uncased=dict(uncased),
        difference=_difference(live_of, candidate_of),
        cases=cases[:listed],
    )


def _replay(detections: list[DetectionV1], policy: AlertingPolicy) -> list[tuple[str, Segment]]:
    grouping = policy.grouping
    first: dict[str, DetectionV1] = {}
    for detection in detections:
        first.setdefault(detection.detection_id, detection)
    unique = list(first.values())
    if grouping.strategy is Strategy.CHAIN:
        # No case is open before the range: every chain starts inside it, so each
        # detection either follows an earlier one sharing an event or takes its fallback.
        chains = plan_chains(unique, [], grouping, lambda d: group_key(d, grouping))
        keyed = [(chains.keys[d.detection_id].key, d) for d in in_chain_order(unique)]
    else:
        keyed = [(group_key(d, grouping).key, d) for d in unique]
    by_key: dict[str, list[DetectionV1]] = defaultdict(list)
    for key, detection in keyed:
        by_key[key].append(detection)

    def may_open(detection: DetectionV1) -> Reason | None:
        severity = policy.severity.severity_for(detection)
        refusal = policy.case_creation.may_open(detection, severity)
        return Reason(refusal) if refusal else None

    return [
        (key, segment)
        for key in sorted(by_key)
        for segment in plan_segments(None, by_key[key], policy.grouping, may_open)
    ]


def _would_be(key: str, segment: Segment, live_of: dict[str, uuid.UUID | None]) -> WouldBeCase:
    times = [d.effective_time for d in segment.detections]
    live = {live_of[d.detection_id] for d in segment.detections} - {None}
    return WouldBeCase(
        group_key=key,
        detections=len(segment.detections),
        first_event=min(times),
        last_event=max(times),
        rules=sorted({d.rule.id for d in segment.detections})[:20],
        live_case_ids=sorted(c for c in live if c is not None),
    )


def _sizes(sizes: Counter[object]) -> Sizes:
    values = list(sizes.values())
    if not values:
        return Sizes(0, 0.0, 0.0, 0)
    return Sizes(
        len(values), sum(values) / len(values), float(statistics.median(values)), max(values)
    )


def _difference(live_of: dict[str, uuid.UUID | None], candidate_of: dict[str, int]) -> Difference:
    both = [d for d in live_of if live_of[d] is not None and d in candidate_of]
    live_parts: dict[uuid.UUID, Counter[int]] = defaultdict(Counter)
    candidate_parts: dict[int, Counter[uuid.UUID]] = defaultdict(Counter)
    for d in both:
        live_case = live_of[d]
        assert live_case is not None
        live_parts[live_case][candidate_of[d]] += 1
        candidate_parts[candidate_of[d]][live_case] += 1
    live_sizes = Counter(c for c in live_of.values() if c is not None)
    candidate_sizes = Counter(candidate_of.values())
    unchanged = sum(
        1
        for index, parts in candidate_parts.items()
        if len(parts) == 1
        and live_sizes[next(iter(parts))] == candidate_sizes[index]
        and len(live_parts[next(iter(parts))]) == 1
    )
    return Difference(
        unchanged_cases=unchanged,
        split_live_cases=sum(len(parts) > 1 for parts in live_parts.values()),
        merged_candidate_cases=sum(len(parts) > 1 for parts in candidate_parts.values()),
        moved_detections=sum(sum(p.values()) - max(p.values()) for p in live_parts.values()),
        newly_uncased=sum(1 for d, c in live_of.items() if c is not None and d not in candidate_of),
        newly_cased=sum(1 for d, c in live_of.items() if c is None and d in candidate_of),
    )
