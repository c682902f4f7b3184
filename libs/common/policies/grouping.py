"""Pure grouping rules: which detections share a case under a tenant's alerting policy.
No I/O: alerting applies them to live batches, the backtest to stored detections."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Any

from libs.common.casestore.lifecycle import OPEN_STATUSES, REOPENABLE
from libs.common.contracts.cases import CaseStatus
from libs.common.contracts.detections import DetectionV1, Severity
from libs.common.policies.alerting import (
    ChainFallback,
    GroupingPolicy,
    OnClosed,
    Strategy,
    WindowKind,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class OpenSlot:
    """A case of a group key and the event-time span of its alerts: the key's slot (its
    latest case, whatever the case's status), or another open case of the key."""

    group_key: str
    case_id: uuid.UUID
    case_status: str
    window_start: datetime
    window_end: datetime
    alert_count: int = 0
    # A deleted case is not open, whatever its status: no alert may join it.
    case_deleted: bool = False


class Reason(StrEnum):
    """Why a detection went where it went; recorded on its alert."""

    JOINED_OPEN_CASE = "joined_open_case"  # within the window of an open case of its key
    NO_CASE_FOR_KEY = "no_case_for_key"  # first detection of its key
    # The key's case is resolved, closed or deleted.
    PREVIOUS_CASE_CLOSED = "previous_case_closed"
    OUTSIDE_WINDOW = "outside_window"  # further from the key's case than the window
    CASE_FULL = "case_full"  # the key's case holds the policy's maximum of alerts
    REOPENED_CASE = "reopened_case"  # the key's finished case was reopened (on_closed)
    # No case: it may not open one (policy.case_creation) and there was none to join.
    BELOW_MIN_SEVERITY = "below_min_severity"
    NOT_TAILORED = "not_tailored"
    BENIGN_ENTITY = "benign_entity"  # an analyst judged one of its entities benign
    # Chain strategy: an open case holds an alert (or an earlier detection of the batch
    # went to the case) that matched one of the same source events.
    SHARED_EVENT = "shared_event"


@dataclass(frozen=True)
class GroupKey:
    """What a detection is grouped by: the key string and the values it was made of."""

    key: str
    strategy: str  # a Strategy value, or how a caller keys its own alerts ("correlation")
    values: dict[str, str | None]
    # The strategy found nothing to group on (no entity of the configured types, no
    # technique...) and host+rule was used instead.
    fallback: bool = False


def group_key(detection: DetectionV1, policy: GroupingPolicy) -> GroupKey:
    """The detection's key under the policy. For the chain strategy, its fallback key:
    the key it groups by when it shares no event with an open case (policies/chaining)."""
    strategy = policy.strategy
    if strategy is Strategy.CHAIN:
        return chain_fallback_key(detection, policy)
    if strategy is Strategy.ENTITY:
        for kind in policy.entity_types:
            value = detection.host if kind == "host" else _entity(detection, kind)
            if value:
                return GroupKey(f"entity:{kind}={value}", strategy, {kind.value: value})
    elif strategy is Strategy.TECHNIQUE and detection.mitre.techniques:
        technique = min(detection.mitre.techniques)
        return GroupKey(f"technique={technique}", strategy, {"technique": technique})
    elif strategy is Strategy.CATEGORY_SENSOR and detection.mitre.tactics:
        category = min(detection.mitre.tactics)
        host = detection.host or "-"
        return GroupKey(
            f"category={category}|host={host}", strategy, {"category": category, "host": host}
        )
    # host+rule keeps the first policy's key format, so existing slots stay valid.
    values = {"host": detection.host, "rule_id": detection.rule.id}
    key = f"host={detection.host or '-'}|rule={detection.rule.id}"
    return GroupKey(key, Strategy.HOST_RULE, values, fallback=strategy is not Strategy.HOST_RULE)


def chain_fallback_key(detection: DetectionV1, policy: GroupingPolicy) -> GroupKey:
    if policy.chain_fallback is ChainFallback.NEW_CASE:
        # One key per detection: no slot is kept for it (see CHAIN_KEY_PREFIX).
        key = f"{CHAIN_KEY_PREFIX}detection={detection.detection_id}"
        return GroupKey(key, Strategy.CHAIN, {"detection_id": detection.detection_id}, True)
    return replace(group_key(detection, _fallback_policy(policy)), fallback=True)


@lru_cache(maxsize=256)
def _fallback_policy(policy: GroupingPolicy) -> GroupingPolicy:
    # Once per policy, not per detection: the chain strategy keys every detection by it.
    return policy.model_copy(update={"strategy": Strategy(policy.chain_fallback.value)})


# Keys of the chain strategy's own cases (joined by a shared event, or opened by one
# detection): they name one case, so no grouping slot is kept for them.
CHAIN_KEY_PREFIX = "chain:"


def _entity(detection: DetectionV1, kind: str) -> str | None:
    return min((e.value for e in detection.entities if e.type == kind), default=None)


@dataclass(frozen=True)
class AppliedPolicy:
    """The tenant's policy as alerting applied it to one batch."""

    version: int
    grouping: GroupingPolicy

    @property
    def window(self) -> timedelta:
        return timedelta(seconds=self.grouping.window_seconds)


def provenance(
    detection: DetectionV1,
    group: GroupKey,
    policy: AppliedPolicy,
    severity: Severity,
    reason: Reason,
    opened: bool,
) -> dict[str, Any]:
    return {
        "policy": "alerting-policy",
        "policy_version": policy.version,
        "strategy": group.strategy,
        "strategy_fallback": group.fallback,
        "group_key": group.key,
        "key": group.values,
        "window": {
            "kind": policy.grouping.window_kind.value,
            "seconds": policy.grouping.window_seconds,
            "measured_on": "event_time",
        },
        "event_time": detection.effective_time.isoformat(),
        "time_fallback": detection.time_fallback,
        "severity": {
            "priority": detection.priority,
            "source_severity": detection.severity.value,
            "assigned": severity.value,
        },
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
    # A new case that continues a full one: the full case's id.
    continues: uuid.UUID | None = None
    # The id the new case will get (chosen here so a continuation can refer to it).
    new_case_id: uuid.UUID = field(default_factory=uuid.uuid4)
    existing_alerts: int = 0
    # The slot's case is resolved or closed and the policy says to reopen it.
    reopens: bool = False
    # Not a case: the detection may not open one (policy.case_creation) and had none to
    # join; the text says why. Stored as an alert without a case.
    held: Reason | None = None
    # The event-time span of the case's alerts once the segment is written (its earlier
    # alerts included); None for a held segment.
    span: tuple[datetime, datetime] | None = None

    @property
    def target_case_id(self) -> uuid.UUID:
        return self.case_id or self.new_case_id

    def full(self, cap: int) -> bool:
        return self.existing_alerts + len(self.detections) >= cap


def plan_segments(
    slot: OpenSlot | None,
    detections: list[DetectionV1],
    policy: GroupingPolicy,
    may_open: Callable[[DetectionV1], Reason | None] = lambda _: None,
    others: Sequence[OpenSlot] = (),
) -> list[Segment]:
    """Split a key's new detections into cases, taking them in event-time order.

    A detection joins a case of its key whose window holds its event time: the slot's
    case, another open case of the key (`others`, so a late detection finds the earlier
    case it belongs to, however batches were cut), or one opened earlier in the batch.
    Where several do, the nearest in event time; a full one (max_alerts_per_case) only
    through a new, linked continuation. Sliding: the window extends the case's span on
    both sides. Fixed: the epoch-aligned window of the case's first event. Outside every
    window, or with only closed cases, a detection starts an unlinked case; if it may
    not (`may_open` says why) it gets a held segment: no case. Segments come out in the
    order of their first detection, each with its case's span after the batch."""
    window = timedelta(seconds=policy.window_seconds)
    targets = _existing_targets(slot, others, policy)
    held: list[Segment] = []
    # Why a new case would open now, were one needed.
    opening_reason = (
        Reason.PREVIOUS_CASE_CLOSED
        if slot is not None and _usable_span(slot, policy) is None
        else Reason.OUTSIDE_WINDOW
        if targets
        else Reason.NO_CASE_FOR_KEY
    )
    live = list(targets)  # those whose window may still hold a later detection
    for detection in sorted(detections, key=lambda d: d.effective_time):
        at = detection.effective_time
        holding, live = _holding(live, at, window, policy)
        room = [t for t in holding if not t.segment.full(policy.max_alerts_per_case)]
        if room:
            nearest = room[0] if len(room) == 1 else min(room, key=lambda t: _distance(t.span, at))
            nearest.add(detection)
            continue
        if holding:
            full = min(holding, key=lambda t: _distance(t.span, at))
            continuation = Segment(None, Reason.CASE_FULL, continues=full.segment.target_case_id)
            targets.append(_Target(continuation, (at, at)).add(detection))
            live.append(targets[-1])
            continue
        refusal = may_open(detection)
        if refusal is not None:
            held.append(Segment(case_id=None, detections=[detection], held=refusal))
            continue
        targets.append(_Target(Segment(None, opening_reason), (at, at)).add(detection))
        live.append(targets[-1])
        opening_reason = Reason.OUTSIDE_WINDOW
    written = [t.segment for t in targets if t.segment.detections]
    for target in targets:
        target.segment.span = target.span
    return sorted([*written, *held], key=lambda s: s.detections[0].effective_time)


@dataclass
class _Target:
    """A case the key's detections may join, and the event-time span of its alerts."""

    segment: Segment
    span: tuple[datetime, datetime]

    def add(self, detection: DetectionV1) -> _Target:
        at = detection.effective_time
        self.segment.detections.append(detection)
        self.span = (min(self.span[0], at), max(self.span[1], at))
        return self


def _holding(
    live: list[_Target], at: datetime, window: timedelta, policy: GroupingPolicy
) -> tuple[list[_Target], list[_Target]]:
    """The targets whose window holds `at`, and those still live: detections come in time
    order and a span grows only by one its window holds, so a window `at` has passed
    never holds a later one (this keeps a long batch of one key linear)."""
    holding: list[_Target] = []
    still: list[_Target] = []
    if policy.window_kind is WindowKind.FIXED:
        current = _fixed_window(at, window)
        for target in live:
            started = _fixed_window(target.span[0], window)
            if started == current:
                holding.append(target)
            if started >= current:
                still.append(target)
        return holding, still
    for target in live:
        reach = target.span[1] + window
        if at <= reach:
            still.append(target)
            if target.span[0] - window <= at:
                holding.append(target)
    return holding, still


def _existing_targets(
    slot: OpenSlot | None, others: Sequence[OpenSlot], policy: GroupingPolicy
) -> list[_Target]:
    targets: list[_Target] = []
    span = _usable_span(slot, policy)
    if span is not None and slot is not None:
        reopens = CaseStatus(slot.case_status) in REOPENABLE
        reason = Reason.REOPENED_CASE if reopens else Reason.JOINED_OPEN_CASE
        segment = Segment(slot.case_id, reason, existing_alerts=slot.alert_count, reopens=reopens)
        targets.append(_Target(segment, span))
    seen = {slot.case_id} if slot is not None else set()
    for other in sorted(others, key=lambda o: (o.window_start, str(o.case_id))):
        # Only open cases: reopening is the slot's case's alone (the key's latest).
        is_open = not other.case_deleted and CaseStatus(other.case_status) in OPEN_STATUSES
        if is_open and other.case_id not in seen:
            seen.add(other.case_id)
            segment = Segment(other.case_id, existing_alerts=other.alert_count)
            targets.append(_Target(segment, (other.window_start, other.window_end)))
    return targets


def _distance(span: tuple[datetime, datetime], at: datetime) -> timedelta:
    return max(span[0] - at, at - span[1], timedelta(0))


def within_window(
    span: tuple[datetime, datetime], at: datetime, window: timedelta, policy: GroupingPolicy
) -> bool:
    if policy.window_kind is WindowKind.FIXED:
        return _fixed_window(span[0], window) == _fixed_window(at, window)
    return span[0] - window <= at <= span[1] + window


def _fixed_window(at: datetime, window: timedelta) -> int:
    return (at - EPOCH) // window


def _usable_span(slot: OpenSlot | None, policy: GroupingPolicy) -> tuple[datetime, datetime] | None:
    if slot is None or slot.case_deleted:  # a deleted case is not open, whatever its status
        return None
    status = CaseStatus(slot.case_status)
    reopenable = policy.on_closed is OnClosed.REOPEN and status in REOPENABLE
    if status not in OPEN_STATUSES and not reopenable:
        return None
    return (slot.window_start, slot.window_end)
