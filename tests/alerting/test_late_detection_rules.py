"""Pure grouping rules for detections that arrive after later ones of their key: they
join the open case their event time belongs to, whichever of the key's cases that is,
and the key's slot stays on its latest case."""

from __future__ import annotations

import uuid
from datetime import timedelta

from libs.common.casestore.lifecycle import DONE_STATUSES
from libs.common.db.models.cases import OPEN_CASES_OF_KEYS
from libs.common.policies.alerting import GroupingPolicy, Strategy, WindowKind
from libs.common.policies.grouping import OpenSlot, Reason, Segment, plan_segments
from services.alerting.case_plans import next_slots
from services.alerting.repository import OPEN_CASES_OF_KEYS_SQL
from tests.support.detections import T0, detection

WINDOW = GroupingPolicy(strategy=Strategy.HOST_RULE, window_seconds=3600)


def case(minutes: float, until: float | None = None, status: str = "new", **kw: object) -> OpenSlot:
    start = T0 + timedelta(minutes=minutes)
    end = T0 + timedelta(minutes=until if until is not None else minutes)
    return OpenSlot("k", uuid.uuid4(), status, start, end, **kw)  # type: ignore[arg-type]


def targets(segments: list[Segment]) -> list[tuple[uuid.UUID | None, list[str]]]:
    return [(s.case_id, [d.detection_id for d in s.detections]) for s in segments]


def test_a_late_detection_joins_the_earlier_open_case_its_time_belongs_to() -> None:
    earlier, latest = case(0, alert_count=2), case(300)
    late = [detection("t", "late", minutes=0.05)]
    segments = plan_segments(latest, late, WINDOW, others=[earlier])
    assert targets(segments) == [(earlier.case_id, ["late"])]
    assert segments[0].reason is Reason.JOINED_OPEN_CASE
    assert segments[0].span == (earlier.window_start, T0 + timedelta(minutes=0.05))
    # Knowing only the slot's case, it would have opened a case of its own.
    assert targets(plan_segments(latest, late, WINDOW)) == [(None, ["late"])]


def test_of_two_open_cases_whose_windows_hold_the_time_the_nearer_one_takes_it() -> None:
    first, second = case(0, until=10), case(100, until=110)
    # 55 minutes after the first case, 35 before the second: both windows (60 min) hold it.
    segments = plan_segments(second, [detection("t", "d", minutes=65)], WINDOW, others=[first])
    assert targets(segments) == [(second.case_id, ["d"])]


def test_a_late_detection_for_a_full_earlier_case_opens_its_continuation() -> None:
    capped = GroupingPolicy(window_seconds=3600, max_alerts_per_case=3)
    full, latest = case(0, alert_count=3), case(300)
    (segment,) = plan_segments(latest, [detection("t", "d", minutes=1)], capped, others=[full])
    assert (segment.case_id, segment.reason, segment.continues) == (
        None,
        Reason.CASE_FULL,
        full.case_id,
    )


def test_finished_and_deleted_cases_take_no_late_detection() -> None:
    latest = case(300)
    for other in (case(0, status="closed"), case(0, status="merged"), case(0, case_deleted=True)):
        (segment,) = plan_segments(latest, [detection("t", "d", minutes=1)], WINDOW, others=[other])
        assert (segment.case_id, segment.reason) == (None, Reason.OUTSIDE_WINDOW)


def test_a_detection_held_back_does_not_stop_a_later_one_joining_the_slot() -> None:
    slot = case(100, until=200)
    batch = [detection("t", "early", minutes=0), detection("t", "inside", minutes=150)]
    segments = plan_segments(slot, batch, WINDOW, lambda _: Reason.BELOW_MIN_SEVERITY)
    assert targets(segments) == [(None, ["early"]), (slot.case_id, ["inside"])]
    assert segments[0].held is Reason.BELOW_MIN_SEVERITY


def test_the_slot_stays_on_the_latest_case_when_a_late_detection_joins_an_earlier_one() -> None:
    earlier, latest = case(0), case(300)
    segments = plan_segments(latest, [detection("t", "late", minutes=1)], WINDOW, others=[earlier])
    assert next_slots({"k": latest}, [("k", s) for s in segments]) == []


def test_the_slot_moves_to_a_later_case_and_off_a_deleted_one() -> None:
    slot = case(0)
    (later,) = plan_segments(slot, [detection("t", "d", minutes=300)], WINDOW)
    (moved,) = next_slots({"k": slot}, [("k", later)])
    assert (moved.case_id, moved.window_end) == (later.new_case_id, T0 + timedelta(minutes=300))
    deleted = case(900, case_deleted=True)
    (earlier,) = plan_segments(deleted, [detection("t", "d", minutes=0)], WINDOW)
    (moved,) = next_slots({"k": deleted}, [("k", earlier)])
    assert moved.case_id == earlier.new_case_id


def test_the_slot_case_keeps_its_own_span_when_grown() -> None:
    slot = case(10, until=20)
    (grown,) = plan_segments(slot, [detection("t", "d", minutes=0)], WINDOW)
    (saved,) = next_slots({"k": slot}, [("k", grown)])
    assert (saved.case_id, saved.window_start, saved.window_end) == (
        slot.case_id,
        T0,
        T0 + timedelta(minutes=20),
    )


def test_the_open_cases_index_leaves_out_exactly_the_done_statuses() -> None:
    named = OPEN_CASES_OF_KEYS.split("NOT IN (")[1].rstrip(")")
    assert {s.strip(" '") for s in named.split(",")} == {s.value for s in DONE_STATUSES}
    # The query states the predicate, so that PostgreSQL may use the partial index.
    assert OPEN_CASES_OF_KEYS in OPEN_CASES_OF_KEYS_SQL.text


def test_a_later_case_stays_reachable_while_the_batch_walks_through_earlier_windows() -> None:
    for kind in (WindowKind.FIXED, WindowKind.SLIDING):
        policy = GroupingPolicy(window_seconds=3600, window_kind=kind)
        later = case(300)
        batch = [detection("t", "early", minutes=0), detection("t", "same hour", minutes=301)]
        segments = plan_segments(None, batch, policy, others=[later])
        assert targets(segments) == [(None, ["early"]), (later.case_id, ["same hour"])], kind
