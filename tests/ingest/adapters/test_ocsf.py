"""OCSF Detection Finding: the OCSF project's own mapping samples (ocsf/examples)."""

from __future__ import annotations

from typing import Any

import pytest

from libs.common.contracts.detections import Severity
from tests.ingest.adapters.golden import (
    assert_rejected,
    check_golden,
    load,
    mutated,
    normalize,
)

GUARDDUTY = "guardduty_detection_finding.json"


@pytest.mark.parametrize(
    ("sample", "expected"),
    [
        (GUARDDUTY, "guardduty_detection_finding.expected.json"),
        ("okta_detection_finding.json", "okta_detection_finding.expected.json"),
    ],
)
def test_golden(sample: str, expected: str) -> None:
    check_golden("ocsf", load("ocsf", sample), expected)


@pytest.mark.parametrize(("activity_id", "name"), [(2, "Update"), (3, "Close")])
def test_update_and_close_normalize_onto_the_same_detection(activity_id: int, name: str) -> None:
    created = load("ocsf", GUARDDUTY)
    later = mutated(created, "activity_id", activity_id)
    later["activity_name"], later["type_uid"] = name, 200400 + activity_id
    detection = normalize("ocsf", later)
    assert detection.detection_id == normalize("ocsf", created).detection_id
    assert detection.raw["activity_id"] == activity_id


def test_severity_ids_map_to_our_scale() -> None:
    finding = load("ocsf", GUARDDUTY)
    seen = {}
    for severity_id in (1, 2, 3, 4, 5, 6):
        detection = normalize("ocsf", mutated(finding, "severity_id", severity_id))
        seen[severity_id] = (detection.severity, detection.priority)
    assert seen == {
        1: (Severity.INFO, 1),
        2: (Severity.LOW, 3),
        3: (Severity.MEDIUM, 5),
        4: (Severity.HIGH, 7),
        5: (Severity.CRITICAL, 9),
        6: (Severity.CRITICAL, 10),
    }


def test_attacks_become_mitre() -> None:
    attack: dict[str, Any] = {
        "tactic": {"name": "Defense Evasion", "uid": "TA0005"},
        "technique": {"name": "Impair Defenses", "uid": "T1562"},
        "sub_technique": {"name": "Disable Cloud Logs", "uid": "T1562.008"},
    }
    finding = mutated(load("ocsf", GUARDDUTY), "finding_info.attacks", [attack])
    mitre = normalize("ocsf", finding).mitre
    assert (mitre.tactics, mitre.techniques) == (["defense-evasion"], ["T1562", "T1562.008"])


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (
            load("ocsf", "cloudtrail_authentication_not_a_finding.json"),
            "ocsf: class_uid 2004 expected, got 3002",
        ),
        (
            mutated(load("ocsf", GUARDDUTY), "class_uid", "2004x"),
            "ocsf: class_uid 2004 expected, got 2004x",
        ),
        (
            mutated(mutated(load("ocsf", GUARDDUTY), "finding_info.title"), "finding_info", {}),
            "ocsf: finding_info.title missing (and no message)",
        ),
        (
            mutated(load("ocsf", GUARDDUTY), "class_uid", None),
            "ocsf: class_uid 2004 expected, got nothing",
        ),
    ],
)
def test_malformed_is_rejected_with_its_reason(document: dict[str, Any], reason: str) -> None:
    assert_rejected("ocsf", document, reason)
