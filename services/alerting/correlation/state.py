"""What correlation remembers per (tenant, rule, entity), and what one evaluation yields.

States are pydantic models because they are stored as JSON between batches (see
repository.py); evaluation never mutates the state it is given, it returns a new one."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# A hit lists at most this many contributing detection ids (and says how many there were).
MAX_HIT_IDS = 100
# A key remembers at most this many observations; beyond, the oldest are forgotten.
MAX_OBSERVATIONS = 2_000


class Observation(BaseModel):
    """One detection as one rule sees it: when, which, and which of the rule's steps it
    matched (0 for single-step rules; a detection matching two steps is two observations)."""

    model_config = ConfigDict(frozen=True)

    at: datetime
    id: str
    step: int = 0

    def order(self) -> tuple[datetime, str, int]:
        return (self.at, self.id, self.step)


class FiredWindow(BaseModel):
    model_config = ConfigDict(frozen=True)

    start: datetime
    end: datetime

    def holds(self, at: datetime) -> bool:
        return self.start <= at <= self.end


class WindowState(BaseModel):
    """event_count, temporal_ordered, join and missing_event: the observations that may
    still take part in a hit, and the windows that already fired."""

    kind: Literal["window"] = "window"
    seen: list[Observation] = Field(default_factory=list)
    fired: list[FiredWindow] = Field(default_factory=list)
    newest: datetime | None = None


class Bucket(BaseModel):
    start: datetime
    count: int = 0
    ids: list[str] = Field(default_factory=list)  # the first MAX_HIT_IDS, for a hit
    last: datetime | None = None


class BaselineState(BaseModel):
    """baseline_deviation: counts per time bucket, since the entity was first seen."""

    kind: Literal["baseline"] = "baseline"
    buckets: list[Bucket] = Field(default_factory=list)
    first_bucket: datetime | None = None
    fired: list[datetime] = Field(default_factory=list)
    newest: datetime | None = None


KeyState = Annotated[WindowState | BaselineState, Field(discriminator="kind")]


class StoredState(BaseModel):
    """A key's state as stored, tagged with the definition of the rule that produced it."""

    fingerprint: str
    state: KeyState


@dataclass(frozen=True)
class Hit:
    """One correlation: which window of which entity, and the detections that made it."""

    window_start: datetime
    window_end: datetime
    at: datetime  # event time at which the correlation was complete
    detection_ids: list[str]
    matched_count: int
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Evaluation:
    state: WindowState | BaselineState
    hits: list[Hit]
    # Contributions (ledger rows) older than this can no longer matter for the key.
    horizon: datetime | None
    # When the key must be evaluated again even if no detection of it arrives.
    due_at: datetime | None = None


def hit(
    start: datetime,
    end: datetime,
    at: datetime,
    matched: list[Observation],
    **details: Any,
) -> Hit:
    ids = list(dict.fromkeys(o.id for o in sorted(matched, key=Observation.order)))
    return Hit(start, end, at, ids[:MAX_HIT_IDS], len(ids), details)


@dataclass
class Admitted:
    seen: list[Observation]
    newest: datetime | None
    horizon: datetime | None


def admit(
    state: WindowState,
    new: list[Observation],
    retention: timedelta,
    absorbed_steps: frozenset[int] | None = None,
) -> Admitted:
    """The key's observations with the new ones added, sorted by time. Left out: ones
    already known (a redelivery), ones older than `retention` behind the newest
    observation (too late), and ones of `absorbed_steps` (all steps when None) inside a
    window that already fired: each window fires once per entity."""
    times = [o.at for o in new] + ([state.newest] if state.newest else [])
    newest = max(times, default=None)
    horizon = newest - retention if newest is not None else None
    known = {(o.id, o.step) for o in state.seen}
    seen = list(state.seen)
    for o in sorted(new, key=Observation.order):
        absorbable = absorbed_steps is None or o.step in absorbed_steps
        if (o.id, o.step) in known or (horizon is not None and o.at < horizon):
            continue
        if absorbable and any(w.holds(o.at) for w in state.fired):
            continue
        known.add((o.id, o.step))
        seen.append(o)
    seen.sort(key=Observation.order)
    return Admitted(seen, newest, horizon)


def keep_recent(
    seen: list[Observation], fired: list[FiredWindow], horizon: datetime | None
) -> WindowState:
    if horizon is not None:
        seen = [o for o in seen if o.at >= horizon]
        fired = [w for w in fired if w.end >= horizon]
    return WindowState(seen=seen[-MAX_OBSERVATIONS:], fired=fired)
