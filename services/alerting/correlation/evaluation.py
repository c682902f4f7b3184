"""The pure core of correlation: which (entity, step) a detection is to a rule, and
(state, new observations, watermark) -> (new state, hits) for every rule type."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from libs.common.contracts.detections import DetectionV1
from services.alerting.correlation.absence import evaluate_missing_event
from services.alerting.correlation.baseline import evaluate_baseline
from services.alerting.correlation.paths import values_at
from services.alerting.correlation.rules import (
    BaselineDeviationRule,
    CorrelationRule,
    EventCountRule,
    JoinRule,
    MissingEventRule,
    TemporalOrderedRule,
)
from services.alerting.correlation.sequences import (
    evaluate_event_count,
    evaluate_join,
    evaluate_temporal_ordered,
)
from services.alerting.correlation.state import (
    BaselineState,
    Evaluation,
    Observation,
    WindowState,
)

# Longer key values (a whole command line in raw, say) are not an entity worth keying on.
MAX_KEY_VALUE_LENGTH = 2_048


def observe(rule: CorrelationRule, detection: DetectionV1) -> dict[str, list[Observation]]:
    """The rule's view of one detection: per key value (the entity, or the joined field's
    value), one observation per step the detection matches. Empty when it does not count."""
    steps = [n for n, match in enumerate(rule.steps) if match.matches(detection)]
    if not steps:
        return {}
    values = values_at(detection, rule.key_path, rule.key_role)
    return {
        value: [
            Observation(at=event_time(detection), id=detection.detection_id, step=step)
            for step in steps
        ]
        for value in values
        if len(value) <= MAX_KEY_VALUE_LENGTH
    }


def event_time(detection: DetectionV1) -> datetime:
    """The detection's effective time; a time without zone is taken as UTC, so that it
    compares with the others instead of failing the batch."""
    at = detection.effective_time
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


def empty_state(rule: CorrelationRule) -> WindowState | BaselineState:
    return BaselineState() if isinstance(rule, BaselineDeviationRule) else WindowState()


def evaluate(
    rule: CorrelationRule,
    state: WindowState | BaselineState | None,
    new: list[Observation],
    watermark: datetime,
) -> Evaluation:
    """One key of one rule after a batch. `state` None or of another kind starts afresh;
    `watermark` is the event time the tenant has reached (missing_event decides on it)."""
    if state is None or state.kind != empty_state(rule).kind:
        state = empty_state(rule)
    if isinstance(rule, BaselineDeviationRule):
        assert isinstance(state, BaselineState)
        return evaluate_baseline(rule, state, new)
    assert isinstance(state, WindowState)
    if isinstance(rule, EventCountRule):
        return evaluate_event_count(rule, state, new)
    if isinstance(rule, TemporalOrderedRule):
        return evaluate_temporal_ordered(rule, state, new)
    if isinstance(rule, JoinRule):
        return evaluate_join(rule, state, new)
    assert isinstance(rule, MissingEventRule)
    return evaluate_missing_event(rule, state, new, watermark)


def retention(rule: CorrelationRule) -> timedelta:
    """How far back in event time a rule's state reaches behind an entity's newest
    detection."""
    if isinstance(rule, BaselineDeviationRule):
        return rule.bucket * (rule.history + 1)
    if isinstance(rule, MissingEventRule):
        return rule.window + rule.grace + rule.allowed_lateness
    return rule.window + rule.allowed_lateness
