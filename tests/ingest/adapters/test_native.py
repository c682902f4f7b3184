"""Native detections through the adapter interface: real records of
../shared/data/detections (read at test time)."""

from __future__ import annotations

from collections import defaultdict
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


def test_rules_firing_on_one_event_name_the_same_matched_event() -> None:
    # Provenance says which recorded event each detection fired on (ground truth only).
    by_event: dict[tuple[str, str], list[list[str]]] = defaultdict(list)
    for record in otrf():
        where = (record["provenance"]["path"], record["provenance"]["record"])
        by_event[where].append(normalize("native", record).matched_event_ids)
    shared = [refs for refs in by_event.values() if len(refs) > 1]
    assert len(shared) > 400
    for refs in shared:
        assert all(r == refs[0] for r in refs)
    named = [refs[0] for refs in shared if refs[0]]
    assert len(named) > 0.9 * len(shared)
    # Distinct events, distinct references: a few recordings hold copies of one event.
    assert len({r[0] for r in named}) >= 0.99 * len(named)


def test_a_sender_may_name_the_matched_events_itself() -> None:
    record = {**regression()[0], "matched_event_ids": ["evt-1", "evt-2", "evt-1"]}
    assert normalize("native", record).matched_event_ids == ["evt-1", "evt-2"]
    no_event = {k: v for k, v in regression()[0].items() if k != "raw"}
    assert normalize("native", no_event).matched_event_ids == []
