"""Pure evaluation of baseline_deviation: a bucket's count per entity against the mean
and standard deviation of the entity's previous buckets.

Buckets are aligned to the Unix epoch, so every instance and every replay cuts time the
same way. Buckets without detections count as zero, from the entity's first bucket on.
Only the buckets that received detections are judged, each once: a bucket that fired
does not fire again, and a bucket is judged against the history before it, so a late
detection for an old bucket is judged as it would have been live."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta

from services.alerting.correlation.rules import BaselineDeviationRule
from services.alerting.correlation.state import (
    MAX_HIT_IDS,
    BaselineState,
    Bucket,
    Evaluation,
    Hit,
    Observation,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def bucket_start(at: datetime, size: timedelta) -> datetime:
    return EPOCH + ((at - EPOCH) // size) * size


def evaluate_baseline(
    rule: BaselineDeviationRule, state: BaselineState, new: list[Observation]
) -> Evaluation:
    size = rule.bucket
    buckets = {b.start: b.model_copy(deep=True) for b in state.buckets}
    newest = max([o.at for o in new] + ([state.newest] if state.newest else []), default=None)
    if newest is None:
        return Evaluation(state=state, hits=[], horizon=None)
    oldest_kept = bucket_start(newest, size) - rule.history * size
    first, touched = state.first_bucket, set()
    for o in sorted(new, key=Observation.order):
        start = bucket_start(o.at, size)
        if start < oldest_kept:
            continue  # older than any history still kept: too late
        bucket = buckets.setdefault(start, Bucket(start=start))
        if o.id in bucket.ids:
            continue
        bucket.count += 1
        if len(bucket.ids) < MAX_HIT_IDS:
            bucket.ids.append(o.id)
        bucket.last = max(o.at, bucket.last) if bucket.last else o.at
        touched.add(start)
        first = min(first, start) if first else start
    hits, fired = [], list(state.fired)
    for start in sorted(touched - set(fired)):
        found = _judge(rule, buckets, start, first)
        if found is not None:
            hits.append(found)
            fired.append(start)
    kept = BaselineState(
        buckets=[b for s, b in sorted(buckets.items()) if s >= oldest_kept],
        first_bucket=first,
        fired=[s for s in fired if s >= oldest_kept],
        newest=newest,
    )
    return Evaluation(state=kept, hits=hits, horizon=oldest_kept)


def _judge(
    rule: BaselineDeviationRule,
    buckets: dict[datetime, Bucket],
    start: datetime,
    first: datetime | None,
) -> Hit | None:
    previous = [start - n * rule.bucket for n in range(1, rule.history + 1)]
    history = [s for s in previous if first is not None and s >= first]
    if len(history) < rule.min_history:
        return None
    counts = [buckets[s].count if s in buckets else 0 for s in history]
    mean = statistics.fmean(counts)
    stddev = statistics.pstdev(counts)
    threshold = mean + rule.k * max(stddev, rule.min_stddev)
    bucket = buckets[start]
    if bucket.count <= threshold:
        return None
    return Hit(
        window_start=start,
        window_end=start + rule.bucket,
        at=bucket.last or start,
        detection_ids=list(bucket.ids),
        matched_count=bucket.count,
        details={
            "count": bucket.count,
            "mean": round(mean, 3),
            "stddev": round(stddev, 3),
            "threshold": round(threshold, 3),
            "k": rule.k,
            "history_buckets": len(history),
        },
    )
