"""Pure evaluation of the window rules: event_count, temporal_ordered and join.

Re-fire policy, the same for all three: a hit's window is [first detection, first + window];
the detections inside it are consumed by the hit, and later arrivals inside it are
absorbed, so a window fires once per entity and each detection counts towards at most
one hit. Arrival order does not matter within the lateness bound: a window is found
from event times, whichever detection arrived last."""

from __future__ import annotations

from datetime import datetime, timedelta

from services.alerting.correlation.rules import EventCountRule, JoinRule, TemporalOrderedRule
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


def evaluate_event_count(
    rule: EventCountRule, state: WindowState, new: list[Observation]
) -> Evaluation:
    admitted = admit(state, new, rule.window + rule.allowed_lateness)
    seen, fired, hits = admitted.seen, list(state.fired), []
    while (found := _dense_run(seen, rule.threshold, rule.window)) is not None:
        start, completed_at = found
        end = start + rule.window
        matched = [o for o in seen if start <= o.at <= end]
        seen = [o for o in seen if not start <= o.at <= end]
        fired.append(FiredWindow(start=start, end=end))
        hits.append(hit(start, end, completed_at, matched, threshold=rule.threshold))
    return _result(seen, fired, hits, admitted.newest, admitted.horizon)


def _dense_run(
    seen: list[Observation], threshold: int, window: timedelta
) -> tuple[datetime, datetime] | None:
    """The earliest `threshold` observations (sorted) spanning at most `window`: the
    window's start and the time of the one that completed the count."""
    for i in range(len(seen) - threshold + 1):
        if seen[i + threshold - 1].at - seen[i].at <= window:
            return seen[i].at, seen[i + threshold - 1].at
    return None


def evaluate_temporal_ordered(
    rule: TemporalOrderedRule, state: WindowState, new: list[Observation]
) -> Evaluation:
    return _evaluate_chains(state, new, len(rule.steps), rule.window, rule.allowed_lateness, True)


def evaluate_join(rule: JoinRule, state: WindowState, new: list[Observation]) -> Evaluation:
    return _evaluate_chains(state, new, 2, rule.window, rule.allowed_lateness, False)


def _evaluate_chains(
    state: WindowState,
    new: list[Observation],
    steps: int,
    window: timedelta,
    lateness: timedelta,
    ordered: bool,
) -> Evaluation:
    admitted = admit(state, new, window + lateness)
    seen, fired, hits = admitted.seen, list(state.fired), []
    while (chain := find_chain(seen, steps, window, ordered)) is not None:
        start = chain[0].at
        end = start + window
        seen = [o for o in seen if not start <= o.at <= end]
        fired.append(FiredWindow(start=start, end=end))
        hits.append(hit(start, end, max(o.at for o in chain), chain, steps=steps))
    return _result(seen, fired, hits, admitted.newest, admitted.horizon)


def find_chain(
    seen: list[Observation], steps: int, window: timedelta, ordered: bool
) -> list[Observation] | None:
    """One observation per step, distinct detections, all within `window` of the first;
    with `ordered`, step by step at the same time or later. The earliest start wins, and
    each step takes its earliest candidate (enough to decide whether a chain exists,
    except in rare cases where one detection matches several steps)."""
    by_step = [[o for o in seen if o.step == s] for s in range(steps)]
    for anchor in seen:
        if ordered and anchor.step != 0:
            continue
        chain, limit = [anchor], anchor.at + window
        others = range(1, steps) if ordered else [s for s in range(steps) if s != anchor.step]
        for step in others:
            floor = chain[-1].at if ordered else anchor.at
            ids = {o.id for o in chain}
            candidate = next(
                (o for o in by_step[step] if floor <= o.at <= limit and o.id not in ids), None
            )
            if candidate is None:
                break
            chain.append(candidate)
        else:
            return chain
    return None


def _result(
    seen: list[Observation],
    fired: list[FiredWindow],
    hits: list[Hit],
    newest: datetime | None,
    horizon: datetime | None,
) -> Evaluation:
    kept = keep_recent(seen, fired, horizon)
    kept.newest = newest
    return Evaluation(state=kept, hits=hits, horizon=horizon)
