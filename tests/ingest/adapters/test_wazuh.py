"""Wazuh alerts: a real alerts.json line from Wazuh's own integration tests (wazuh-qa)
and the placeholder fixture of wazuh/wazuh's integrations tests."""

from __future__ import annotations

from typing import Any

import pytest

from libs.common.contracts.detections import Severity
from tests.ingest.adapters.golden import assert_rejected, check_golden, load, mutated, normalize

SSHD = "sshd_bruteforce_5712.json"


def test_golden() -> None:
    check_golden("wazuh", load("wazuh", SSHD), "sshd_bruteforce_5712.expected.json")


def test_levels_scale_to_severity_and_priority() -> None:
    alert = load("wazuh", SSHD)
    seen = {
        level: (d.severity, d.priority)
        for level in (0, 3, 5, 7, 10, 12, 15)
        for d in [normalize("wazuh", mutated(alert, "rule.level", level))]
    }
    assert seen == {
        0: (Severity.INFO, 0),
        3: (Severity.INFO, 2),
        5: (Severity.LOW, 3),
        7: (Severity.MEDIUM, 5),
        10: (Severity.MEDIUM, 7),
        12: (Severity.HIGH, 8),
        15: (Severity.CRITICAL, 10),
    }


def test_level_as_text_is_read() -> None:
    alert = mutated(load("wazuh", SSHD), "rule.level", "12")
    assert normalize("wazuh", alert).priority == 8


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (load("wazuh", "integrations_test_placeholder_alert.json"), "wazuh: rule.id missing"),
        (mutated(load("wazuh", SSHD), "rule.description", ""), "wazuh: rule.description missing"),
        (mutated(load("wazuh", SSHD), "rule.id"), "wazuh: rule.id missing"),
    ],
)
def test_malformed_is_rejected_with_its_reason(document: dict[str, Any], reason: str) -> None:
    assert_rejected("wazuh", document, reason)


def test_an_unreadable_timestamp_falls_back_to_ingest_time() -> None:
    placeholder = mutated(load("wazuh", "integrations_test_placeholder_alert.json"), "rule.id", "1")
    detection = normalize("wazuh", placeholder)
    assert (detection.event_time, detection.time_fallback) == (None, True)
