"""Native detections through the adapter interface: real records of
../shared/data/detections (read at test time)."""

from __future__ import annotations

from functools import cache
from typing import Any

from tests.ingest.adapters.golden import (
    assert_rejected,
    check_golden_records,
    mutated,
    normalize,
    shared_records,
)


@cache
def otrf() -> list[dict[str, Any]]:
    return shared_records("detections/otrf_sigma.jsonl.gz")


@cache
def regression() -> list[dict[str, Any]]:
    return shared_records("detections/sigma_regression.jsonl.gz")


def test_golden() -> None:
    # No timestamp (two), a critical detection, one with network addresses, a regression one.
    chosen = {f"otrf:{i}": otrf()[i] for i in (0, 1, 2937, 11)} | {"regression:0": regression()[0]}
    check_golden_records("native", chosen, "native_detections.expected.json")


def test_every_shared_detection_is_accepted() -> None:
    for record in regression() + otrf():
        assert normalize("native", record).detection_id == record["detection_id"]


def test_rejections_keep_the_existing_wording() -> None:
    assert_rejected(
        "native", mutated(regression()[0], "rule.title"), "native: rule.title: Field required"
    )
