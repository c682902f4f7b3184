"""Elastic Security alerts: a real Elastic Defend alert from elastic/integrations."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from libs.common.contracts.detections import Severity
from tests.ingest.adapters.golden import (
    NOW,
    assert_rejected,
    check_golden,
    comparable,
    load,
    mutated,
    normalize,
)

SAMPLE = "elastic_defend_behavior_alert.json"


def test_golden() -> None:
    check_golden("ecs", load("ecs", SAMPLE), "elastic_defend_behavior_alert.expected.json")


def _nested(document: dict[str, Any]) -> dict[str, Any]:
    """The same alert with every dotted key expanded into objects, as the alerts index
    returns it when read through the nested mapping."""
    nested: dict[str, Any] = {}
    for key, value in document.items():
        *parents, last = key.split(".") if key != "@timestamp" else [key]
        node = nested
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return nested


def test_nested_and_dotted_fields_read_the_same() -> None:
    dotted = load("ecs", SAMPLE)
    assert comparable(normalize("ecs", _nested(dotted))) == comparable(normalize("ecs", dotted))


def test_without_a_rule_override_the_alert_rule_is_the_rule() -> None:
    alert = mutated(load("ecs", SAMPLE), ("kibana.alert.rule.rule_name_override",))
    assert normalize("ecs", alert).rule.id == "9a1a2dae-0b5f-4c3d-8305-a268d404c306"


def test_risk_score_bands_apply_without_a_severity_word() -> None:
    alert = mutated(load("ecs", SAMPLE), ("kibana.alert.severity",))
    scored = [
        normalize("ecs", mutated(alert, ("kibana.alert.risk_score",), score)).severity
        for score in (10, 21, 47, 73, 99)
    ]
    assert scored == [
        Severity.INFO,
        Severity.LOW,
        Severity.MEDIUM,
        Severity.HIGH,
        Severity.CRITICAL,
    ]


def test_missing_rule_name_is_rejected() -> None:
    alert = load("ecs", SAMPLE)
    for field in ("kibana.alert.rule.name", "message", "rule"):
        alert = mutated(alert, (field,))
    assert_rejected(
        "ecs", alert, "ecs: kibana.alert.rule.name missing (and no rule.name or message)"
    )


def test_an_unreadable_time_falls_back_to_the_next_one_then_to_ingest_time() -> None:
    alert = mutated(load("ecs", SAMPLE), ("kibana.alert.original_time",), "yesterday")
    detection = normalize("ecs", alert)
    assert (detection.event_time, detection.time_fallback) == (
        datetime(2024, 6, 9, 13, 56, 3, 205000, tzinfo=UTC),
        False,
    )
    detection = normalize("ecs", mutated(alert, ("@timestamp",), "not a time"))
    assert (detection.event_time, detection.effective_time, detection.time_fallback) == (
        None,
        NOW,
        True,
    )
