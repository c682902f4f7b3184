"""Splunk webhook alert action: the payload of Splunk's documentation (no public real
capture exists; see tests/data/README.md)."""

from __future__ import annotations

from typing import Any

import pytest

from libs.common.contracts.detections import Severity
from tests.ingest.adapters.golden import assert_rejected, check_golden, load, mutated, normalize

DOCS = "webhook_docs_example.json"


def test_golden() -> None:
    check_golden("splunk", load("splunk", DOCS), "webhook_docs_example.expected.json")


def test_cim_fields_of_the_result_row_are_read() -> None:
    row = {
        "_time": "1700000000",
        "dest": "10.0.0.7",
        "src": "203.0.113.9",
        "user": "alice",
        "urgency": "high",
        "risk_score": "80",
        "mitre_technique_id": ["T1110", "T1110.001"],
    }
    payload = mutated(mutated(load("splunk", DOCS), "result", row), "search_name", "Brute force")
    detection = normalize("splunk", payload)
    assert (detection.title, detection.host, detection.severity, detection.priority) == (
        "Brute force",
        "10.0.0.7",
        Severity.HIGH,
        8,
    )
    assert detection.mitre.techniques == ["T1110", "T1110.001"]
    assert [(e.type.value, e.value, e.role) for e in detection.entities] == [
        ("ip", "10.0.0.7", "dst"),
        ("ip", "203.0.113.9", "src"),
        ("user", "alice", "actor"),
    ]


def test_for_each_result_mode_gives_each_row_its_own_id() -> None:
    first = load("splunk", DOCS)
    second = mutated(first, "result.count", "9")
    assert normalize("splunk", first).detection_id != normalize("splunk", second).detection_id


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (
            mutated(load("splunk", DOCS), "result"),
            "splunk: result (the first result row) missing or not an object",
        ),
        (
            mutated(load("splunk", DOCS), "result", "8"),
            "splunk: result (the first result row) missing or not an object",
        ),
    ],
)
def test_malformed_is_rejected_with_its_reason(document: dict[str, Any], reason: str) -> None:
    assert_rejected("splunk", document, reason)
