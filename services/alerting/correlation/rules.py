"""Correlation rules as written in a tenant's YAML file: one pydantic model per rule type,
told apart by `type`. Rules only describe; evaluation lives in the evaluation modules."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

from libs.common.contracts.detections import DetectionV1, EntityType, Severity
from services.alerting.correlation.paths import check_path, comparable, values_at

MAX_WINDOW = timedelta(days=30)
_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3_600, "d": 86_400}


def parse_duration(value: Any) -> Any:
    """`90s`, `10m`, `2h`, `1d`, or a whole number of seconds."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or text such as 10m, 2h, 1d")
    if isinstance(value, int):
        return timedelta(seconds=value)
    if isinstance(value, str):
        found = _DURATION.match(value)
        if found is None:
            raise ValueError(f"{value!r} is not a duration such as 90s, 10m, 2h or 1d")
        return timedelta(seconds=int(found[1]) * _UNITS[found[2]])
    return value


def _within_bounds(value: timedelta) -> timedelta:
    if value < timedelta(0) or value > MAX_WINDOW:
        raise ValueError(f"a duration lies between 0 and {MAX_WINDOW.days} days")
    return value


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("must be longer than zero")
    return value


Duration = Annotated[timedelta, BeforeValidator(parse_duration), AfterValidator(_within_bounds)]
Window = Annotated[Duration, AfterValidator(_positive)]
FieldPath = Annotated[str, AfterValidator(check_path)]
Scalar = str | int | float | bool
OneOrMany = Annotated[
    list[str], BeforeValidator(lambda v: [v] if isinstance(v, str | int | float) else v)
]
RuleId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")]


class FieldCondition(BaseModel):
    """One field test: `equals` a value, is `in` a list, or `exists` (or not)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    path: FieldPath
    equals: Scalar | None = None
    in_: list[Scalar] | None = Field(default=None, alias="in", min_length=1)
    exists: bool | None = None

    @model_validator(mode="after")
    def _one_test(self) -> FieldCondition:
        tests = [self.equals is not None, self.in_ is not None, self.exists is not None]
        if sum(tests) != 1:
            raise ValueError(f"field {self.path!r} needs exactly one of equals, in, exists")
        return self

    def holds(self, detection: DetectionV1) -> bool:
        found = values_at(detection, self.path)
        if self.exists is not None:
            return bool(found) is self.exists
        wanted = [self.equals] if self.in_ is None else self.in_
        return bool(set(found) & {comparable(w) for w in wanted})


class Match(BaseModel):
    """Which detections a rule (or one step of it) looks at. Every condition given must
    hold; a list of values means any one of them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rule_id: OneOrMany | None = None
    rule_name: OneOrMany | None = None
    # `T1110` also matches its sub-techniques (`T1110.003`).
    mitre_technique: OneOrMany | None = None
    severity: (
        Annotated[list[Severity], BeforeValidator(lambda v: [v] if isinstance(v, str) else v)]
        | None
    ) = None
    severity_at_least: Severity | None = None
    fields: list[FieldCondition] = Field(default_factory=list)

    @model_validator(mode="after")
    def _not_everything(self) -> Match:
        given = [self.rule_id, self.rule_name, self.mitre_technique, self.severity]
        if all(v is None for v in [*given, self.severity_at_least]) and not self.fields:
            raise ValueError("a match needs at least one condition (it would match everything)")
        return self

    def matches(self, d: DetectionV1) -> bool:
        if self.rule_id is not None and d.rule.id not in self.rule_id:
            return False
        if self.rule_name is not None and d.rule.name not in self.rule_name:
            return False
        if self.mitre_technique is not None and not _has_technique(d, self.mitre_technique):
            return False
        if self.severity is not None and d.severity not in self.severity:
            return False
        if self.severity_at_least is not None and d.severity.rank < self.severity_at_least.rank:
            return False
        return all(condition.holds(d) for condition in self.fields)


def _has_technique(detection: DetectionV1, wanted: list[str]) -> bool:
    return any(
        have == want or have.startswith(f"{want}.")
        for have in detection.mitre.techniques
        for want in wanted
    )


class RuleBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: RuleId
    name: str = Field(min_length=1, max_length=512)
    description: str | None = Field(default=None, max_length=8_192)
    # The correlation alert's title; `{entity}` is replaced by the correlated value.
    title: str | None = Field(default=None, min_length=1, max_length=512)
    severity: Severity
    mitre_techniques: list[str] = Field(default_factory=list)
    mitre_tactics: list[str] = Field(default_factory=list)
    enabled: bool = True

    def fingerprint(self) -> str:
        """Changes whenever the rule's definition does: stored state of an older definition
        is not carried over (a new window or threshold starts from scratch)."""
        body = self.model_dump_json(exclude={"name", "description", "title", "enabled"})
        return hashlib.sha256(body.encode()).hexdigest()[:16]


class EntityKeyed(RuleBase):
    """Rules over "the same entity": an entity type, optionally in one role only."""

    entity: EntityType
    entity_role: str | None = Field(default=None, min_length=1, max_length=64)

    @property
    def key_path(self) -> str:
        return f"entity.{self.entity.value}"

    @property
    def key_role(self) -> str | None:
        return self.entity_role


class Windowed(BaseModel):
    window: Window
    # How far (in event time) behind the newest detection of its entity a detection may
    # arrive and still count. Default: one window.
    lateness: Duration | None = None

    @property
    def allowed_lateness(self) -> timedelta:
        return self.window if self.lateness is None else self.lateness


class EventCountRule(EntityKeyed, Windowed):
    """`threshold` detections of `match` by the same entity within `window`."""

    type: Literal["event_count"]
    match: Match
    threshold: int = Field(ge=2, le=100_000)

    @property
    def steps(self) -> list[Match]:
        return [self.match]


class TemporalOrderedRule(EntityKeyed, Windowed):
    """Detections of `steps[0]`, then `steps[1]`, ... by the same entity within `window`,
    each at the same time as or later than the one before."""

    type: Literal["temporal_ordered"]
    steps: list[Match] = Field(min_length=2, max_length=10)


class JoinRule(RuleBase, Windowed):
    """A `left` and a `right` detection that share a value at the path `by` within
    `window`. (Not `on`: YAML 1.1 reads a bare `on` key as the boolean true.)"""

    type: Literal["join"]
    left: Match
    right: Match
    by: FieldPath

    @property
    def steps(self) -> list[Match]:
        return [self.left, self.right]

    @property
    def key_path(self) -> str:
        return self.by

    @property
    def key_role(self) -> str | None:
        return None


class BaselineDeviationRule(EntityKeyed):
    """The count of `match` per entity and `bucket` lies more than `k` standard deviations
    above the mean of its previous `history` buckets (upward deviations only)."""

    type: Literal["baseline_deviation"]
    match: Match
    bucket: Window
    history: int = Field(default=24, ge=2, le=1_000)
    # Buckets of history (since the entity was first seen) needed before judging at all.
    min_history: int = Field(default=6, ge=2, le=1_000)
    k: float = Field(default=3.0, gt=0, le=100)
    # A floor under the standard deviation, so a flat history (all zeros, or all ones)
    # does not turn a single extra detection into an anomaly.
    min_stddev: float = Field(default=1.0, ge=0)

    @model_validator(mode="after")
    def _history_fits(self) -> BaselineDeviationRule:
        if self.min_history > self.history:
            raise ValueError("min_history cannot exceed history")
        return self

    @property
    def steps(self) -> list[Match]:
        return [self.match]


class MissingEventRule(EntityKeyed, Windowed):
    """A `first` detection not followed by a `followed_by` detection of the same entity
    within `window`. Decided once the tenant's event time passes `window + grace` after
    the first detection (see docs/correlation.md, "Time")."""

    type: Literal["missing_event"]
    first: Match
    followed_by: Match
    grace: Duration = timedelta(0)

    @property
    def steps(self) -> list[Match]:
        return [self.first, self.followed_by]


CorrelationRule = Annotated[
    EventCountRule | TemporalOrderedRule | JoinRule | BaselineDeviationRule | MissingEventRule,
    Field(discriminator="type"),
]


class RuleSet(BaseModel):
    """One tenant's rules."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rules: list[CorrelationRule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_ids(self) -> RuleSet:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.id in seen:
                raise ValueError(f"rule id {rule.id!r} is used twice")
            seen.add(rule.id)
        return self

    @property
    def enabled(self) -> list[CorrelationRule]:
        return [rule for rule in self.rules if rule.enabled]
