"""`bench-alerting --copies N`: a longer backlog that repeats the grouping work, not a
pile of duplicates or one stretched incident."""

from __future__ import annotations

from bench.alerting import with_copies
from tests.support.detections import detection


def test_copies_have_their_own_ids_and_days_and_leave_the_originals_alone() -> None:
    corpus = [detection("t", "a", minutes=0), detection("t", "b", minutes=90)]
    copied = with_copies(corpus, 3)
    assert [d.detection_id for d in copied] == ["a", "b", "a~1", "b~1", "a~2", "b~2"]
    assert copied[:2] == corpus
    # Each copy lies wholly before the one above it, a day or more apart: the default
    # policy's 15-minute window never joins two copies into one case.
    for n in (1, 2):
        newest_of_copy = max(d.effective_time for d in copied[2 * n : 2 * n + 2])
        oldest_above = min(d.effective_time for d in copied[2 * n - 2 : 2 * n])
        assert (oldest_above - newest_of_copy).days >= 1
        assert all(d.event_time == d.effective_time for d in copied[2 * n : 2 * n + 2])
    assert with_copies(corpus, 1) == corpus
