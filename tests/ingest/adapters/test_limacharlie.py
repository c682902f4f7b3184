"""LimaCharlie detections: the examples of LimaCharlie's own documentation."""

from __future__ import annotations

from typing import Any

import pytest

from libs.common.contracts.detections import Severity
from tests.ingest.adapters.golden import assert_rejected, check_golden, load, mutated, normalize

STREAM = "detection_stream_structures.json"


@pytest.mark.parametrize(
    "sample", ["detection_stream_structures", "hayabusa_report", "cases_linked_detection"]
)
def test_golden(sample: str) -> None:
    check_golden("limacharlie", load("limacharlie", f"{sample}.json"), f"{sample}.expected.json")


def test_priority_is_kept_and_read_as_severity() -> None:
    detection = load("limacharlie", STREAM)
    seen = [
        (d.priority, d.severity)
        for d in (
            normalize("limacharlie", mutated(detection, "priority", p))
            for p in (0, 3, 5, 8, 10, 42)
        )
    ]
    assert seen == [
        (0, Severity.INFO),
        (3, Severity.LOW),
        (5, Severity.MEDIUM),
        (8, Severity.HIGH),
        (10, Severity.CRITICAL),
        (10, Severity.CRITICAL),
    ]


def test_sigma_tags_in_metadata_become_mitre() -> None:
    tags = ["attack.execution", "attack.t1059.001", "attack.g0016"]
    detection = mutated(load("limacharlie", STREAM), "detect_mtd.tags", tags)
    mitre = normalize("limacharlie", detection).mitre
    assert (mitre.tactics, mitre.techniques) == (["execution"], ["T1059.001"])


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (
            mutated(load("limacharlie", STREAM), "cat"),
            "limacharlie: cat (the detection name) missing",
        ),
        (
            mutated(load("limacharlie", STREAM), "cat", {}),
            "limacharlie: cat (the detection name) missing",
        ),
        (
            mutated(load("limacharlie", "hayabusa_report.json"), "data.cat"),
            "limacharlie: cat (the detection name) missing",
        ),
    ],
)
def test_malformed_is_rejected_with_its_reason(document: dict[str, Any], reason: str) -> None:
    assert_rejected("limacharlie", document, reason)
