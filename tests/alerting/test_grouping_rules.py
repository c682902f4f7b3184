"""Pure grouping rules: which detections of one key share a case."""

from __future__ import annotations

import uuid
from datetime import timedelta

from services.alerting.grouping import plan_segments
from services.alerting.repository import OpenSlot
from tests.support.detections import T0, detection

WINDOW = timedelta(hours=1)


def ids(segments: list) -> list[tuple[bool, list[str]]]:  # type: ignore[type-arg]
    return [(s.case_id is not None, [d.detection_id for d in s.detections]) for s in segments]


def test_a_gap_longer_than_the_window_starts_a_new_case() -> None:
    batch = [
        detection("t", "a", minutes=0),
        detection("t", "b", minutes=50),
        detection("t", "c", minutes=170),
    ]
    assert ids(plan_segments(None, batch, WINDOW)) == [(False, ["a", "b"]), (False, ["c"])]


def test_the_window_slides_with_each_detection() -> None:
    batch = [detection("t", str(i), minutes=i * 50) for i in range(5)]  # 200 min in all
    assert ids(plan_segments(None, batch, WINDOW)) == [(False, ["0", "1", "2", "3", "4"])]


def test_detections_join_the_open_slot_within_the_window_in_any_order() -> None:
    slot = OpenSlot("k", uuid.uuid4(), "in_progress", T0, T0 + timedelta(minutes=10))
    batch = [detection("t", "late", minutes=60), detection("t", "early", minutes=-55)]
    assert ids(plan_segments(slot, batch, WINDOW)) == [(True, ["early", "late"])]


def test_a_closed_case_is_not_grown() -> None:
    slot = OpenSlot("k", uuid.uuid4(), "closed", T0, T0)
    assert ids(plan_segments(slot, [detection("t", "a", minutes=1)], WINDOW)) == [(False, ["a"])]
