"""The `chain` grouping strategy, pure: a detection joins the open case that already holds
an alert matching one of the same source events (`DetectionV1.matched_event_ids`).

Detections are taken in event-time order, as if they had arrived one by one:
- an open case within the window (measured on the case's span of event times, sliding or
  fixed like every strategy), not full, holds an alert that matched one of its events:
  it joins that case; when several do, the oldest (lowest case number), because the
  first case an event landed in is the one analysts are already working, and every
  alerting instance picks the same one. The others are named in its provenance.
- else an earlier detection of the same batch matched one of its events: it follows that
  detection, under its key, so both land in the one case the key's planning picks.
- else it groups by the policy's `chain_fallback` (a key strategy, or a case of its own).

Alerting feeds it the open cases its batch's events are indexed under (one query per
batch); the backtest feeds it none and replays the whole range as one batch."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from libs.common.contracts.detections import DetectionV1
from libs.common.policies.alerting import GroupingPolicy, Strategy
from libs.common.policies.grouping import (
    CHAIN_KEY_PREFIX,
    GroupKey,
    Reason,
    Segment,
    within_window,
)

# Provenance lists are cut here: an event matched by thousands of alerts stays readable.
LISTED = 20


@dataclass(frozen=True)
class ChainCandidate:
    """An open case holding a stored alert that matched one of the batch's events."""

    event_id: str
    alert_id: uuid.UUID
    case_id: uuid.UUID
    case_number: int
    first_event_at: datetime | None
    last_event_at: datetime | None
    alert_count: int


@dataclass
class ChainLink:
    """What chained a detection: the events it shares, with which alerts or detections."""

    shared_event_ids: list[str]
    alert_ids: list[uuid.UUID] = field(default_factory=list)
    detection_ids: list[str] = field(default_factory=list)
    # The open case it joined; None: it follows an earlier detection of the batch.
    case_id: uuid.UUID | None = None
    other_case_ids: list[uuid.UUID] = field(default_factory=list)


@dataclass
class ChainPlan:
    # Open cases joined by a shared event, with their detections in event-time order.
    joins: dict[uuid.UUID, list[DetectionV1]] = field(default_factory=dict)
    # Every other detection's key: its own fallback key or the one it follows.
    keys: dict[str, GroupKey] = field(default_factory=dict)
    links: dict[str, ChainLink] = field(default_factory=dict)  # by detection id


@dataclass
class _Case:
    number: int
    span: tuple[datetime, datetime] | None
    alert_count: int


@dataclass
class _Holders:
    """Who holds one event: stored alerts per case, and detections of this batch."""

    alerts: dict[uuid.UUID, list[uuid.UUID]] = field(default_factory=dict)
    detections: dict[uuid.UUID, list[str]] = field(default_factory=dict)
    # The first detection of the batch that went to a key rather than a known case:
    # (its place in the batch, its id, its key).
    leader: tuple[int, str, GroupKey] | None = None


def plan_chains(
    detections: Sequence[DetectionV1],
    candidates: Sequence[ChainCandidate],
    policy: GroupingPolicy,
    key_of: Callable[[DetectionV1], GroupKey],
) -> ChainPlan:
    cases, holders = _index(candidates)
    plan = ChainPlan()
    for seq, detection in enumerate(in_chain_order(detections)):
        events = list(dict.fromkeys(detection.matched_event_ids))
        at = detection.effective_time
        joinable: dict[uuid.UUID, list[str]] = {}
        for event in events:
            found = holders.get(event)
            for case_id in _case_ids(found):
                if _joinable(cases[case_id], at, policy):
                    joinable.setdefault(case_id, []).append(event)
        if joinable:
            chosen = min(joinable, key=lambda c: cases[c].number)
            plan.joins.setdefault(chosen, []).append(detection)
            plan.links[detection.detection_id] = _join_link(
                chosen, joinable, holders, cases, detection
            )
            _grow(cases[chosen], at)
            for event in events:
                held = holders.setdefault(event, _Holders()).detections
                held.setdefault(chosen, []).append(detection.detection_id)
            continue
        leaders = [h.leader for e in events if (h := holders.get(e)) and h.leader is not None]
        if leaders:
            leader = min(leaders, key=lambda found: found[0])  # the earliest one
            key = leader[2]
            shared = [e for e in events if (h := holders.get(e)) and h.leader == leader]
            plan.links[detection.detection_id] = ChainLink(shared, detection_ids=[leader[1]])
        else:
            key = key_of(detection)
        plan.keys[detection.detection_id] = key
        for event in events:
            entry = holders.setdefault(event, _Holders())
            entry.leader = entry.leader or (seq, detection.detection_id, key)
    return plan


def _index(
    candidates: Sequence[ChainCandidate],
) -> tuple[dict[uuid.UUID, _Case], dict[str, _Holders]]:
    cases: dict[uuid.UUID, _Case] = {}
    holders: dict[str, _Holders] = {}
    for c in candidates:
        first, last = c.first_event_at, c.last_event_at
        span = None if first is None or last is None else (first, last)
        cases.setdefault(c.case_id, _Case(c.case_number, span, c.alert_count))
        by_case = holders.setdefault(c.event_id, _Holders()).alerts
        by_case.setdefault(c.case_id, []).append(c.alert_id)
    return cases, holders


def in_chain_order(detections: Sequence[DetectionV1]) -> list[DetectionV1]:
    """Event time, then id: a leader comes before its followers at equal times too."""
    return sorted(detections, key=lambda d: (d.effective_time, d.detection_id))


def _case_ids(found: _Holders | None) -> list[uuid.UUID]:
    if found is None:
        return []
    return list(dict.fromkeys([*found.alerts, *found.detections]))


def _joinable(case: _Case, at: datetime, policy: GroupingPolicy) -> bool:
    if case.span is None or case.alert_count >= policy.max_alerts_per_case:
        return False
    return within_window(case.span, at, timedelta(seconds=policy.window_seconds), policy)


def _grow(case: _Case, at: datetime) -> None:
    assert case.span is not None
    case.span = (min(case.span[0], at), max(case.span[1], at))
    case.alert_count += 1


def _join_link(
    chosen: uuid.UUID,
    joinable: dict[uuid.UUID, list[str]],
    holders: dict[str, _Holders],
    cases: dict[uuid.UUID, _Case],
    detection: DetectionV1,
) -> ChainLink:
    shared = joinable[chosen]
    alert_ids = {a for e in shared for a in holders[e].alerts.get(chosen, [])}
    detection_ids = {d for e in shared for d in holders[e].detections.get(chosen, [])}
    others = sorted(set(joinable) - {chosen}, key=lambda c: cases[c].number)
    return ChainLink(
        shared,
        alert_ids=sorted(alert_ids),
        detection_ids=sorted(detection_ids - {detection.detection_id}),
        case_id=chosen,
        other_case_ids=others,
    )


def join_key(case_id: uuid.UUID) -> GroupKey:
    """The key recorded on alerts that joined a case by a shared event."""
    return GroupKey(f"{CHAIN_KEY_PREFIX}case={case_id}", Strategy.CHAIN, {"case_id": str(case_id)})


def join_segments(plan: ChainPlan) -> list[tuple[GroupKey, Segment]]:
    """The planned joins as segments growing their cases."""
    return [
        (join_key(case_id), Segment(case_id=case_id, detections=joined))
        for case_id, joined in plan.joins.items()
    ]


def chain_provenance(
    plan: ChainPlan, policy: GroupingPolicy, detection: DetectionV1, segment: Segment
) -> dict[str, Any]:
    """What the alert's `why` adds under the chain strategy: the `chain` block, and the
    strategy `chain` with reason `shared_event` when a shared event placed it. A
    follower whose leader went to another case (no case, or a new one past the window)
    was placed by the key alone and keeps that key's provenance."""
    link = plan.links.get(detection.detection_id)
    placed = [d.detection_id for d in segment.detections]
    if link is not None and link.case_id is None and not set(link.detection_ids) & set(placed):
        link = None
    block: dict[str, Any] = {
        "matched_event_ids": detection.matched_event_ids[:LISTED],
        "shared_event_ids": link.shared_event_ids[:LISTED] if link else [],
        "fallback": policy.chain_fallback.value,
    }
    if link is None:
        return {"chain": block}
    block["shared_with_alert_ids"] = [str(a) for a in link.alert_ids[:LISTED]]
    block["shared_with_detection_ids"] = link.detection_ids[:LISTED]
    if link.other_case_ids:
        block["other_case_ids"] = [str(c) for c in link.other_case_ids[:LISTED]]
    return {
        "chain": block,
        "strategy": Strategy.CHAIN.value,
        "strategy_fallback": False,
        "reason": Reason.SHARED_EVENT.value,
    }
