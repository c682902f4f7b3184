"""TheHive alerts: the TheHive 5 API docs example and what thehive4py 2.1.0 and 1.8.2
really send (recorded in ../shared/data/clients)."""

from __future__ import annotations

from typing import Any

import pytest

from libs.common.contracts.detections import Severity
from tests.ingest.adapters.golden import assert_rejected, check_golden, load, mutated, normalize

RECORDED = "alert_thehive4py_2.1.0.json"


@pytest.mark.parametrize(
    "sample", ["alert_api_docs", "alert_thehive4py_2.1.0", "alert_legacy_thehive4py_1.8.2"]
)
def test_golden(sample: str) -> None:
    check_golden("thehive", load("thehive", f"{sample}.json"), f"{sample}.expected.json")


def test_severity_scale() -> None:
    alert = load("thehive", RECORDED)
    seen = [
        (d.severity, d.priority)
        for d in (normalize("thehive", mutated(alert, "severity", level)) for level in (1, 2, 3, 4))
    ]
    assert seen == [
        (Severity.LOW, 3),
        (Severity.MEDIUM, 5),
        (Severity.HIGH, 7),
        (Severity.CRITICAL, 9),
    ]


def test_the_same_alert_sent_twice_has_the_same_id() -> None:
    alert = load("thehive", RECORDED)
    resent = mutated(alert, "description", "edited")
    assert normalize("thehive", resent).detection_id == normalize("thehive", alert).detection_id


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (mutated(load("thehive", RECORDED), "title"), "thehive: title missing"),
        (mutated(load("thehive", RECORDED), "title", "   "), "thehive: title missing"),
        (mutated(load("thehive", RECORDED), "title", ["a"]), "thehive: title missing"),
    ],
)
def test_malformed_is_rejected_with_its_reason(document: dict[str, Any], reason: str) -> None:
    assert_rejected("thehive", document, reason)
