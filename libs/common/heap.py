"""Garbage-collector settings for the services' hot paths.

A batch of a thousand parsed detections is a few hundred thousand short-lived objects,
freed by reference counting; with CPython's default thresholds they still trigger many
cyclic collections, each walking every object the process holds. Objects alive at
start-up (modules, settings, compiled validators) are frozen out of those walks, and
young collections happen less often. Measured: bench/ingest.py, docs/benchmarks.md."""

from __future__ import annotations

import gc

# Allocations between young collections (CPython's default is 700), then how many young
# collections per middle one and middle per full one (defaults 10 and 10).
THRESHOLDS = (10_000, 20, 50)


def freeze_startup_heap() -> None:
    """Call once the application is built, before it serves."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
