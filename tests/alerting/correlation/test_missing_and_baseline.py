"""Pure evaluation of missing_event (decided by the watermark) and baseline_deviation."""

from __future__ import annotations

from datetime import datetime, timedelta

from services.alerting.correlation.baseline import EPOCH, bucket_start
from services.alerting.correlation.evaluation import evaluate
from services.alerting.correlation.rules import BaselineDeviationRule, Match, MissingEventRule
from services.alerting.correlation.state import BaselineState, Hit, Observation, WindowState
from tests.support.detections import T0

FIRST, FOLLOWED = 0, 1


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def obs(detection_id: str, minutes: float, step: int = 0) -> Observation:
    return Observation(at=at(minutes), id=detection_id, step=step)


def missing_rule(grace: int = 0) -> MissingEventRule:
    return MissingEventRule(
        type="missing_event",
        id="m",
        name="backup started, never finished",
        severity="medium",
        entity="host",
        first=Match(rule_id=["start"]),
        followed_by=Match(rule_id=["end"]),
        window=timedelta(minutes=30),
        grace=timedelta(minutes=grace),
    )


class Feed:
    def __init__(self, rule: MissingEventRule | BaselineDeviationRule) -> None:
        self.rule = rule
        self.state: WindowState | BaselineState | None = None
        self.hits: list[Hit] = []
        self.due_at: datetime | None = None

    def batch(self, *observations: Observation, watermark: float | None = None) -> list[Hit]:
        mark = at(watermark) if watermark is not None else max(o.at for o in observations)
        result = evaluate(self.rule, self.state, list(observations), mark)
        self.state, self.due_at = result.state, result.due_at
        self.hits += result.hits
        return result.hits


def test_missing_event_fires_once_the_watermark_passes_the_window() -> None:
    feed = Feed(missing_rule())
    feed.batch(obs("s1", 0))
    assert feed.due_at == at(30)
    assert feed.batch(watermark=29) == []
    (hit,) = feed.batch(watermark=30)  # another entity's detection moved event time on
    assert hit.detection_ids == ["s1"]
    assert (hit.window_start, hit.at) == (at(0), at(30))
    assert feed.batch(watermark=90) == []  # decided once
    assert feed.due_at is None


def test_missing_event_answered_within_the_window_never_fires() -> None:
    feed = Feed(missing_rule())
    feed.batch(obs("s1", 0))
    feed.batch(obs("e1", 29, FOLLOWED))
    feed.batch(watermark=500)
    assert feed.hits == []
    assert feed.due_at is None


def test_missing_event_follower_before_the_first_does_not_count() -> None:
    feed = Feed(missing_rule())
    feed.batch(obs("e0", 0, FOLLOWED), obs("s1", 1))
    feed.batch(watermark=31)
    assert [h.detection_ids for h in feed.hits] == [["s1"]]


def test_missing_event_follower_arriving_first_but_later_in_event_time_counts() -> None:
    feed = Feed(missing_rule())
    feed.batch(obs("e1", 20, FOLLOWED))
    feed.batch(obs("s1", 5))  # arrives late, but is answered by e1
    feed.batch(watermark=500)
    assert feed.hits == []


def test_missing_event_waits_for_the_grace_period() -> None:
    feed = Feed(missing_rule(grace=10))
    feed.batch(obs("s1", 0))
    feed.batch(watermark=35)
    feed.batch(obs("e1", 25, FOLLOWED))  # late, but within window and before the decision
    feed.batch(watermark=60)
    assert feed.hits == []


def test_missing_event_one_hit_per_window_and_redelivery_is_absorbed() -> None:
    feed = Feed(missing_rule())
    feed.batch(obs("s1", 0), obs("s2", 10), obs("s3", 40))
    feed.batch(watermark=45)
    assert [h.detection_ids for h in feed.hits] == [["s1", "s2"]]
    feed.batch(obs("s1", 0), obs("s2", 10), watermark=46)  # redelivered
    feed.batch(watermark=70)
    assert [h.detection_ids for h in feed.hits] == [["s1", "s2"], ["s3"]]


def test_missing_event_a_batch_decides_with_its_own_followers_first() -> None:
    feed = Feed(missing_rule())
    feed.batch(obs("s1", 0))
    feed.batch(obs("e1", 20, FOLLOWED), obs("other", 60, FOLLOWED))
    assert feed.hits == []


def baseline_rule() -> BaselineDeviationRule:
    return BaselineDeviationRule(
        type="baseline_deviation",
        id="b",
        name="logon spike",
        severity="high",
        entity="user",
        match=Match(rule_id=["logon"]),
        bucket=timedelta(hours=1),
        history=6,
        min_history=4,
        k=3,
    )


def hourly(hour: int, count: int, prefix: str = "d") -> list[Observation]:
    return [obs(f"{prefix}{hour}-{n}", hour * 60 + n) for n in range(count)]


def test_baseline_fires_on_a_spike_above_k_sigma() -> None:
    feed = Feed(baseline_rule())
    for hour, count in enumerate([2, 3, 2, 3, 2]):
        feed.batch(*hourly(hour, count))
    assert feed.hits == []
    feed.batch(*hourly(5, 5))  # mean 2.4, floor sigma 1: threshold 5.4
    assert feed.hits == []
    feed.batch(*hourly(5, 1, prefix="more"))
    (hit,) = feed.hits
    assert hit.matched_count == 6
    assert hit.details["threshold"] == 5.4
    assert (hit.window_start, hit.window_end) == (at(300), at(360))


def test_baseline_fires_once_per_bucket_and_ignores_redelivery() -> None:
    feed = Feed(baseline_rule())
    for hour in range(5):
        feed.batch(*hourly(hour, 1))
    spike = hourly(5, 10)
    feed.batch(*spike)
    feed.batch(*spike)
    feed.batch(*hourly(5, 5, prefix="again"))
    assert len(feed.hits) == 1
    assert isinstance(feed.state, BaselineState)
    assert feed.state.buckets[-1].count == 15


def test_baseline_needs_enough_history_first() -> None:
    feed = Feed(baseline_rule())
    feed.batch(*hourly(0, 1))
    feed.batch(*hourly(1, 50))  # only one bucket of history
    assert feed.hits == []


def test_baseline_quiet_hours_count_as_zero() -> None:
    feed = Feed(baseline_rule())
    feed.batch(*hourly(0, 1))
    feed.batch(*hourly(5, 4))  # four empty hours in between: mean 0.2, threshold 3.2
    assert [h.matched_count for h in feed.hits] == [4]


def test_baseline_buckets_are_aligned_to_the_epoch() -> None:
    assert bucket_start(at(61), timedelta(hours=1)) == at(60)
    seven = timedelta(minutes=7)
    assert (bucket_start(at(61), seven) - EPOCH) % seven == timedelta(0)
