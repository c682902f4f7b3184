"""Pure evaluation of missing_event: a `first` detection not followed, within the window,
by a `followed_by` detection of the same entity.

Absence has no detection to trigger on, so the decision waits for event time to move on:
a first detection at t is judged once the watermark passes t + window + grace. The
watermark is the newest event time of the batch being processed for the tenant, or of
the entity itself if that is later (docs/correlation.md, "Time"). Re-fire policy: the
earliest missing first detection opens a window [t, t + window]; every other pending
first detection inside it is absorbed into that one hit."""

from __future__ import annotations

from datetime import datetime

from services.alerting.correlation.rules import MissingEventRule
from services.alerting.correlation.state import (
    Evaluation,
    FiredWindow,
    Hit,
    Observation,
    WindowState,
    admit,
    hit,
    keep_recent,
)

FIRST, FOLLOWED_BY = 0, 1


def evaluate_missing_event(
    rule: MissingEventRule, state: WindowState, new: list[Observation], watermark: datetime
) -> Evaluation:
    wait = rule.window + rule.grace
    # Only first detections are absorbed by fired windows: a later `followed_by` still
    # answers a first detection that arrives late, just before such a window.
    admitted = admit(state, new, wait + rule.allowed_lateness, frozenset({FIRST}))
    followers = [o for o in admitted.seen if o.step == FOLLOWED_BY]
    pending = [
        o
        for o in admitted.seen
        if o.step == FIRST and not _answered(o, followers, rule.window.total_seconds())
    ]
    now = max(watermark, admitted.newest) if admitted.newest else watermark
    fired, hits = list(state.fired), []
    while due := [o for o in pending if o.at + wait <= now]:
        start = due[0].at
        end = start + rule.window
        inside = [o for o in pending if start <= o.at <= end]
        pending = [o for o in pending if not start <= o.at <= end]
        fired.append(FiredWindow(start=start, end=end))
        proven = [o for o in inside if o.at + wait <= now]
        hits.append(_missing(start, end, proven, rule))
    kept = keep_recent(sorted(pending + followers, key=Observation.order), fired, admitted.horizon)
    kept.newest = admitted.newest
    due_at = min((o.at for o in kept.seen if o.step == FIRST), default=None)
    return Evaluation(
        state=kept,
        hits=hits,
        horizon=admitted.horizon,
        due_at=due_at + wait if due_at is not None else None,
    )


def _answered(first: Observation, followers: list[Observation], window_seconds: float) -> bool:
    return any(
        f.id != first.id and 0 <= (f.at - first.at).total_seconds() <= window_seconds
        for f in followers
    )


def _missing(
    start: datetime, end: datetime, proven: list[Observation], rule: MissingEventRule
) -> Hit:
    return hit(
        start, end, end, proven, waited_seconds=int((rule.window + rule.grace).total_seconds())
    )
