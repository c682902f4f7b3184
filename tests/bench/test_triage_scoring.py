"""The triage evaluation's scoring: purity and completeness on hand-made groupings."""

from __future__ import annotations

import pytest

from bench.triage_scoring import score

TRUTH = {"a1": "A", "a2": "A", "a3": "A", "b1": "B", "b2": "B"}


def test_one_case_per_incident_is_perfect() -> None:
    result = score({"a1": "c1", "a2": "c1", "a3": "c1", "b1": "c2", "b2": "c2"}, TRUTH)
    assert (result.purity, result.completeness, result.pure_cases) == (1.0, 1.0, 1.0)
    assert (result.cases, result.incidents, result.whole_incidents) == (2, 2, 1.0)


def test_one_case_for_everything_is_complete_but_impure() -> None:
    result = score(dict.fromkeys(TRUTH, "c1"), TRUTH)
    assert result.completeness == 1.0
    assert result.purity == pytest.approx(3 / 5)
    assert result.pure_cases == 0.0


def test_one_case_per_detection_is_pure_but_incomplete() -> None:
    result = score({d: f"c-{d}" for d in TRUTH}, TRUTH)
    assert result.purity == 1.0
    assert result.completeness == pytest.approx(2 / 5)
    assert result.cases_per_incident_mean == pytest.approx(2.5)
    assert result.detections_per_case_mean == 1.0


def test_detections_outside_the_truth_are_not_scored() -> None:
    result = score({"a1": "c1", "zz": "c1"}, TRUTH)
    assert (result.detections, result.purity) == (1, 1.0)
    with pytest.raises(ValueError, match="no detection"):
        score({"zz": "c1"}, TRUTH)
