"""A tenant's alerting policy: how detections map to severity and group into cases.

Stored versioned per tenant (every change is a new version, the newest one applies);
alerting records the version it applied on every alert, so old decisions stay
explainable after the policy changes. Pure models and rules, no I/O."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from libs.common.contracts.detections import DetectionV1, EntityType, Severity

MIN_WINDOW_SECONDS = 60
MAX_WINDOW_SECONDS = 7 * 24 * 3600


class Strict(BaseModel):
    # A misspelt policy field is an error the admin sees, not a silently ignored setting.
    model_config = ConfigDict(extra="forbid", frozen=True)


class SeverityThresholds(Strict):
    """Priority 0-10 to severity: at or above `critical` is critical, and so on; below
    `medium` is low. `info` is never assigned automatically."""

    critical: int = Field(default=8, ge=0, le=10)
    high: int = Field(default=5, ge=0, le=10)
    medium: int = Field(default=3, ge=0, le=10)

    @model_validator(mode="after")
    def _descending(self) -> SeverityThresholds:
        if not self.critical >= self.high >= self.medium:
            raise ValueError("thresholds must satisfy critical >= high >= medium")
        return self

    def severity_for(self, detection: DetectionV1) -> Severity:
        """From the priority when the source gave one, else the source's severity; a
        source's `info` still becomes `low` (an analyst decides what is informational)."""
        priority = detection.priority
        if priority is None:
            return Severity.LOW if detection.severity is Severity.INFO else detection.severity
        if priority >= self.critical:
            return Severity.CRITICAL
        if priority >= self.high:
            return Severity.HIGH
        if priority >= self.medium:
            return Severity.MEDIUM
        return Severity.LOW


class Strategy(StrEnum):
    HOST_RULE = "host+rule"  # one case per host and rule: the first policy
    ENTITY = "entity"  # one case per entity value of the configured types (first one found)
    TECHNIQUE = "technique"  # one case per MITRE technique
    CATEGORY_SENSOR = "category+sensor"  # one case per rule category (tactic) and host
    # Joins the open case already holding an alert that matched one of the same source
    # events (DetectionV1.matched_event_ids); without one, `chain_fallback` decides.
    CHAIN = "chain"


class WindowKind(StrEnum):
    SLIDING = "sliding"  # joins while within the window of the case's span of event times
    FIXED = "fixed"  # joins while in the same fixed window (aligned to the epoch)


class ChainFallback(StrEnum):
    """Where a detection goes under the chain strategy when no open case within the
    window shares one of its matched events (or it names none)."""

    ENTITY = "entity"
    HOST_RULE = "host+rule"
    TECHNIQUE = "technique"
    CATEGORY_SENSOR = "category+sensor"
    NEW_CASE = "new_case"  # a case of its own (which later detections may chain to)


class OnClosed(StrEnum):
    """What a detection does when its key's last case is resolved or closed and the
    detection falls within that case's window."""

    NEW_CASE = "new_case"  # leave the finished case alone: open a new one
    REOPEN = "reopen"  # reopen it (back to in_progress, audited) and join it


class GroupingPolicy(Strict):
    # Defaults chosen by `make triage-eval` on the shared corpus (docs/triage.md): one case
    # per host within 15 minutes of event time kept incidents as whole as 24 hours did,
    # with far purer cases than longer windows or host+rule.
    strategy: Strategy = Strategy.ENTITY
    # For the entity strategy, in order of preference.
    entity_types: tuple[EntityType, ...] = (EntityType.HOST, EntityType.USER, EntityType.IP)
    window_seconds: int = Field(default=900, ge=MIN_WINDOW_SECONDS, le=MAX_WINDOW_SECONDS)
    window_kind: WindowKind = WindowKind.SLIDING
    on_closed: OnClosed = OnClosed.NEW_CASE
    # When a case is full, the next alert opens a continuation case linked to it.
    max_alerts_per_case: int = Field(default=1_000, ge=1, le=100_000)
    # The chain strategy's grouping for detections that share no event with an open case.
    chain_fallback: ChainFallback = ChainFallback.ENTITY

    @model_validator(mode="after")
    def _entity_types(self) -> GroupingPolicy:
        by_entity = self.strategy is Strategy.ENTITY or (
            self.strategy is Strategy.CHAIN and self.chain_fallback is ChainFallback.ENTITY
        )
        if by_entity and not self.entity_types:
            raise ValueError("the entity strategy needs at least one entity type")
        return self


class IngestionMode(StrEnum):
    ALL = "all"  # every detection may open a case
    TAILORED = "tailored"  # only detections of the listed rules or categories may


class CaseCreation(Strict):
    """Which detections may open a case. One that may not still joins an open case of its
    key; with none to join it is stored as an alert without a case (never dropped)."""

    mode: IngestionMode = IngestionMode.ALL
    # Tailored mode: rule ids or names, and rule categories (MITRE tactics), that may.
    rules: tuple[str, ...] = Field(default=(), max_length=1_000)
    categories: tuple[str, ...] = Field(default=(), max_length=100)
    # Below this (assigned) severity a detection does not open a case.
    min_severity: Severity = Severity.LOW
    # Correlation rule types (event_count, temporal_ordered, ...) that always open one.
    always_open_correlations: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _tailored_lists_something(self) -> CaseCreation:
        if self.mode is IngestionMode.TAILORED and not (self.rules or self.categories):
            raise ValueError("tailored mode needs at least one rule or category")
        return self

    def may_open(self, detection: DetectionV1, severity: Severity) -> str | None:
        """None if the detection may open a case, else why not."""
        if detection.format == "correlation":  # alerting's correlation alerts
            kind = detection.rule.level or ""
            if kind in self.always_open_correlations:
                return None
        if self.mode is IngestionMode.TAILORED and not self._tailored(detection):
            return "not_tailored"
        if severity.rank < self.min_severity.rank:
            return "below_min_severity"
        return None

    def _tailored(self, detection: DetectionV1) -> bool:
        rules = set(self.rules)
        if detection.rule.id in rules or detection.rule.name in rules:
            return True
        return any(tactic in self.categories for tactic in detection.mitre.tactics)


FINGERPRINT_FIELDS = frozenset(
    {"rule.id", "rule.name", "title", "source", "host", "mitre.techniques"}
    | {f"entity.{kind.value}" for kind in EntityType}
)


class DedupPolicy(Strict):
    """Beyond the detection id: detections with the same values in these fields within
    `window_seconds` of event time are one alert, counted (occurrence_count, last_seen)."""

    # Empty: only the detection id deduplicates. Names from FINGERPRINT_FIELDS, e.g.
    # ["rule.id", "host", "entity.user"].
    fingerprint_fields: tuple[str, ...] = Field(default=(), max_length=20)
    window_seconds: int = Field(default=3_600, ge=MIN_WINDOW_SECONDS, le=MAX_WINDOW_SECONDS)

    @model_validator(mode="after")
    def _known_fields(self) -> DedupPolicy:
        unknown = sorted(set(self.fingerprint_fields) - FINGERPRINT_FIELDS)
        if unknown:
            raise ValueError(
                f"unknown fingerprint fields {unknown}; known: {sorted(FINGERPRINT_FIELDS)}"
            )
        return self


class AlertingPolicy(Strict):
    severity: SeverityThresholds = SeverityThresholds()
    dedup: DedupPolicy = DedupPolicy()
    case_creation: CaseCreation = CaseCreation()
    grouping: GroupingPolicy = GroupingPolicy()


DEFAULT_POLICY = AlertingPolicy()
