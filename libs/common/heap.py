"""Garbage-collector settings for the services' hot paths.

A batch of a thousand parsed detections is a few hundred thousand short-lived objects
(~50 tracked containers per detection once parsed, more while its alert is built), freed
by reference counting when the batch is done. A cyclic collection walks every young
object still alive, so one that runs while batches are in flight walks them all, and
promotes them to be walked again by the next middle collection: pure waste, they are
not garbage. Objects alive at start-up (modules, settings, compiled validators) are
frozen out of those walks, and a young collection waits for a million net new objects,
more than alerting's three partitions' batches of 1,000 hold at once: a batch's objects
are freed by reference counting (which counts them back down) before one is due.

Measured in the alerting benchmark (a gc.callbacks hook timing each collection; docs/
benchmarks.md, session 11): with a young threshold of 10,000 the collector took 2.0 s of
the 13.2 s of CPU the process used in a run (622 young collections, 41 middle ones of
~20 ms each); with 1,000,000, 0.23 s of 10.9 s. Cyclic garbage (rare here: asyncio and
SQLAlchemy leave a few cycles per batch) waits longer to be freed; the peak RSS did not grow.
The outbox relay, expanding batch rows of 500 messages, spent 0.21 s of its 3.2 s in
the collector with CPython's defaults, 0.07 s (start-up's collections) with these."""

from __future__ import annotations

import gc

# Net new tracked objects between young collections (CPython's default is 700), then
# how many young collections per middle one and middle per full one (defaults 10, 10).
THRESHOLDS = (1_000_000, 10, 10)


def freeze_startup_heap() -> None:
    """Call once the application is built, before it serves."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
