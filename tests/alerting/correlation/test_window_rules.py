"""Pure evaluation of event_count, temporal_ordered and join, batch after batch."""

from __future__ import annotations

from datetime import timedelta

from services.alerting.correlation.evaluation import evaluate
from services.alerting.correlation.rules import (
    CorrelationRule,
    EventCountRule,
    JoinRule,
    Match,
    TemporalOrderedRule,
)
from services.alerting.correlation.state import Hit, Observation, WindowState
from tests.support.detections import T0

ANY = Match(rule_id=["r"])


def obs(detection_id: str, minutes: float, step: int = 0) -> Observation:
    return Observation(at=T0 + timedelta(minutes=minutes), id=detection_id, step=step)


class Feed:
    """One key of one rule, fed batch after batch, its state carried over like the
    repository carries it."""

    def __init__(self, rule: CorrelationRule) -> None:
        self.rule = rule
        self.state: WindowState | None = None
        self.hits: list[Hit] = []

    def batch(self, *observations: Observation) -> list[Hit]:
        watermark = max((o.at for o in observations), default=T0)
        result = evaluate(self.rule, self.state, list(observations), watermark)
        assert isinstance(result.state, WindowState)
        self.state = result.state
        self.hits += result.hits
        return result.hits


def count_rule(threshold: int = 3, window: int = 10) -> EventCountRule:
    return EventCountRule(
        type="event_count",
        id="c",
        name="count",
        severity="high",
        entity="user",
        match=ANY,
        threshold=threshold,
        window=timedelta(minutes=window),
    )


def ids(hits: list[Hit]) -> list[list[str]]:
    return [h.detection_ids for h in hits]


def test_event_count_fires_when_the_threshold_is_reached_within_the_window() -> None:
    feed = Feed(count_rule())
    assert feed.batch(obs("a", 0), obs("b", 4)) == []
    (hit,) = feed.batch(obs("c", 9))
    assert hit.detection_ids == ["a", "b", "c"]
    assert (hit.window_start, hit.window_end) == (T0, T0 + timedelta(minutes=10))
    assert hit.at == T0 + timedelta(minutes=9)


def test_event_count_out_of_order_arrival_within_the_window_fires_once() -> None:
    feed = Feed(count_rule())
    feed.batch(obs("late", 8))
    feed.batch(obs("first", 0))
    feed.batch(obs("middle", 5))
    assert ids(feed.hits) == [["first", "middle", "late"]]
    assert feed.hits[0].window_start == T0


def test_event_count_detections_spread_wider_than_the_window_do_not_fire() -> None:
    feed = Feed(count_rule())
    feed.batch(obs("a", 0), obs("b", 5), obs("c", 11))
    assert feed.hits == []
    feed.batch(obs("d", 12))  # b, c, d lie within 10 minutes
    assert ids(feed.hits) == [["b", "c", "d"]]


def test_event_count_fires_once_per_window_then_again_in_a_later_window() -> None:
    feed = Feed(count_rule())
    feed.batch(obs("a", 0), obs("b", 1), obs("c", 2))
    feed.batch(obs("d", 3), obs("e", 4), obs("f", 5))  # inside the fired window: absorbed
    assert len(feed.hits) == 1
    feed.batch(obs("g", 11), obs("h", 12), obs("i", 13))
    assert ids(feed.hits) == [["a", "b", "c"], ["g", "h", "i"]]


def test_event_count_one_batch_holding_everything_lists_the_whole_window() -> None:
    feed = Feed(count_rule())
    feed.batch(*(obs(f"d{n}", n) for n in range(6)))
    assert ids(feed.hits) == [[f"d{n}" for n in range(6)]]
    assert feed.hits[0].at == T0 + timedelta(minutes=2)  # when the third arrived


def test_event_count_redelivered_batches_change_nothing() -> None:
    feed = Feed(count_rule())
    batch = [obs("a", 0), obs("b", 1)]
    feed.batch(*batch)
    feed.batch(*batch)  # redelivered before the hit: still two detections
    assert feed.hits == []
    feed.batch(obs("c", 2))
    state = feed.state
    feed.batch(obs("a", 0), obs("b", 1), obs("c", 2))  # redelivered after the hit
    assert len(feed.hits) == 1
    assert feed.state == state


def test_event_count_forgets_detections_that_arrive_too_late() -> None:
    feed = Feed(count_rule())  # lateness defaults to the window: 10 minutes
    feed.batch(obs("now", 100))
    feed.batch(obs("old1", 70), obs("old2", 71), obs("old3", 72))
    assert feed.hits == []
    assert feed.state is not None
    assert [o.id for o in feed.state.seen] == ["now"]


def test_event_count_state_does_not_grow_past_the_window() -> None:
    feed = Feed(count_rule(threshold=50))
    for n in range(200):
        feed.batch(obs(f"d{n}", n * 6))  # one every 6 minutes: never 50 in 10 minutes
    assert feed.state is not None
    assert len(feed.state.seen) <= 4


def ordered_rule(window: int = 10) -> TemporalOrderedRule:
    return TemporalOrderedRule(
        type="temporal_ordered",
        id="o",
        name="ordered",
        severity="high",
        entity="host",
        steps=[Match(rule_id=["a"]), Match(rule_id=["b"]), Match(rule_id=["c"])],
        window=timedelta(minutes=window),
    )


def test_temporal_ordered_fires_on_steps_in_order() -> None:
    feed = Feed(ordered_rule())
    feed.batch(obs("a1", 0, 0), obs("b1", 2, 1))
    (hit,) = feed.batch(obs("c1", 5, 2))
    assert hit.detection_ids == ["a1", "b1", "c1"]


def test_temporal_ordered_uses_event_time_not_arrival_order() -> None:
    feed = Feed(ordered_rule())
    feed.batch(obs("c1", 5, 2))
    feed.batch(obs("b1", 2, 1))
    feed.batch(obs("a1", 0, 0))
    assert ids(feed.hits) == [["a1", "b1", "c1"]]


def test_temporal_ordered_steps_out_of_order_do_not_fire() -> None:
    feed = Feed(ordered_rule())
    feed.batch(obs("a1", 0, 0), obs("c1", 1, 2), obs("b1", 2, 1))
    assert feed.hits == []
    feed.batch(obs("c2", 3, 2))  # now a1, b1, c2 are in order
    assert ids(feed.hits) == [["a1", "b1", "c2"]]


def test_temporal_ordered_steps_further_apart_than_the_window_do_not_fire() -> None:
    feed = Feed(ordered_rule())
    feed.batch(obs("a1", 0, 0), obs("b1", 5, 1), obs("c1", 11, 2))
    assert feed.hits == []


def test_temporal_ordered_one_detection_never_fills_two_steps() -> None:
    feed = Feed(ordered_rule())
    feed.batch(obs("x", 0, 0), obs("x", 0, 1), obs("x", 0, 2))
    assert feed.hits == []


def test_temporal_ordered_absorbs_a_second_sequence_inside_the_fired_window() -> None:
    feed = Feed(ordered_rule())
    feed.batch(obs("a1", 0, 0), obs("b1", 1, 1), obs("c1", 2, 2))
    feed.batch(obs("a2", 3, 0), obs("b2", 4, 1), obs("c2", 5, 2))
    feed.batch(obs("a3", 20, 0), obs("b3", 21, 1), obs("c3", 22, 2))
    assert ids(feed.hits) == [["a1", "b1", "c1"], ["a3", "b3", "c3"]]


def join_rule() -> JoinRule:
    return JoinRule(
        type="join",
        id="j",
        name="join",
        severity="medium",
        left=Match(rule_id=["l"]),
        right=Match(rule_id=["r"]),
        by="raw.session",
        window=timedelta(minutes=10),
    )


def test_join_fires_on_left_and_right_in_either_order() -> None:
    feed = Feed(join_rule())
    feed.batch(obs("r1", 3, 1))
    (hit,) = feed.batch(obs("l1", 0, 0))
    assert hit.detection_ids == ["l1", "r1"]
    assert hit.window_start == T0


def test_join_needs_two_detections_within_the_window() -> None:
    feed = Feed(join_rule())
    feed.batch(obs("both", 0, 0), obs("both", 0, 1))  # one detection on both sides
    feed.batch(obs("r1", 11, 1))  # eleven minutes after
    assert feed.hits == []
    feed.batch(obs("l2", 12, 0))
    assert ids(feed.hits) == [["r1", "l2"]]
