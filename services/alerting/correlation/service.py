"""CorrelationEngine: one tenant's share of an alerting batch through its correlation
rules, inside the batch's transaction; returns the correlation alerts to group.

Steps, all in the caller's transaction (it never commits):
1. each detection becomes observations per (rule, entity key);
2. the keys to touch (observed, due for a time decision, stale) are locked with
   pg_advisory_xact_lock in ascending order;
3. the contribution ledger keeps only detections not counted before;
4. each key's stored state is evaluated (pure) and written back, the ledger pruned;
5. hits become synthetic detections (alerts.py)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.contracts.detections import DetectionV1
from libs.common.db.jsonb import SerializedJSON
from libs.common.logging import get_logger
from services.alerting.correlation import repository
from services.alerting.correlation.alerts import (
    correlation_detection,
    entity_key,
    is_correlation,
    key_digest,
)
from services.alerting.correlation.evaluation import evaluate, event_time, observe, retention
from services.alerting.correlation.loading import load_rule_sets
from services.alerting.correlation.repository import Contribution, Key, StateRow
from services.alerting.correlation.rules import CorrelationRule, MissingEventRule, RuleSet
from services.alerting.correlation.settings import CorrelationSettings
from services.alerting.correlation.state import (
    BaselineState,
    Evaluation,
    Hit,
    Observation,
    StoredState,
    WindowState,
)

log = get_logger(__name__)
# Keys decided by event time per batch at most; the rest wait for the next batch.
MAX_DUE_PER_BATCH = 1_000


@dataclass
class KeyWork:
    rule: CorrelationRule
    entity_key: str
    observations: list[Observation] = field(default_factory=list)


class CorrelationEngine:
    def __init__(
        self,
        rule_sets: Mapping[str, RuleSet],
        settings: CorrelationSettings | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._rules = {
            tenant: {rule.id: rule for rule in rule_set.enabled}
            for tenant, rule_set in rule_sets.items()
        }
        self._settings = settings or CorrelationSettings()
        self._clock = clock
        longest = max(
            (retention(r) for rules in self._rules.values() for r in rules.values()),
            default=timedelta(0),
        )
        # Never drop a key that a rule's window could still reach, whatever the setting.
        self._idle = max(timedelta(hours=self._settings.stale_after_hours), longest * 2)

    def tenants(self) -> list[str]:
        return sorted(t for t, rules in self._rules.items() if rules)

    async def correlate(
        self, session: AsyncSession, tenant_id: str, detections: Sequence[DetectionV1]
    ) -> list[DetectionV1]:
        rules = self._rules.get(tenant_id)
        inputs = [d for d in detections if not is_correlation(d)]
        if not rules or not inputs:
            return []
        watermark = max(event_time(d) for d in inputs)
        work = _observe(rules, inputs)
        waiting = [r.id for r in rules.values() if isinstance(r, MissingEventRule)]
        due = await repository.due_keys(session, tenant_id, waiting, watermark, MAX_DUE_PER_BATCH)
        for due_key, stored_key in due.items():
            if due_key not in work and due_key[0] in rules:
                work[due_key] = KeyWork(rules[due_key[0]], stored_key)
        stale = await repository.stale_keys(
            session, tenant_id, self._idle, waiting, self._settings.stale_sweep_limit
        )
        stale = [key for key in stale if key not in work]
        await repository.lock_keys(session, tenant_id, [*work, *stale])
        fresh = await repository.record_contributions(session, tenant_id, _ledger(work))
        raised = await self._evaluate(session, tenant_id, work, fresh, set(due), watermark)
        await repository.drop_stale(session, tenant_id, stale, self._idle)
        if not raised:
            return []
        ids = [i for _, _, hit in raised for i in hit.detection_ids]
        matched = await repository.stored_detections(session, tenant_id, ids)
        now = self._clock()
        alerts = []
        for work_item, key, hit in raised:
            alert = correlation_detection(tenant_id, work_item.rule, key, hit, matched, now)
            log.info(
                "correlation.raised",
                tenant_id=tenant_id,
                rule_id=work_item.rule.id,
                entity_key=key,
                detection_id=alert.detection_id,
                matched=hit.matched_count,
            )
            alerts.append(alert)
        return alerts

    async def _evaluate(
        self,
        session: AsyncSession,
        tenant_id: str,
        work: dict[Key, KeyWork],
        fresh: set[tuple[str, str, str]],
        due: set[Key],
        watermark: datetime,
    ) -> list[tuple[KeyWork, str, Hit]]:
        """Evaluate every key that has something new (or is due); write states back."""
        states = await repository.load_states(session, tenant_id, list(work))
        saves: list[StateRow] = []
        horizons: list[tuple[str, str, datetime]] = []
        raised: list[tuple[KeyWork, str, Hit]] = []
        for key in sorted(work):
            item = work[key]
            new = [o for o in item.observations if (key[0], key[1], o.id) in fresh]
            if not new and key not in due:
                continue  # every detection of this key was counted before: a redelivery
            result = evaluate(
                item.rule, self._state(tenant_id, item, states.get(key)), new, watermark
            )
            saves.append(_row(key, item, result))
            if result.horizon is not None:
                horizons.append((key[0], key[1], result.horizon))
            raised += [(item, item.entity_key, hit) for hit in result.hits]
        await repository.save_states(session, tenant_id, saves)
        await repository.prune_contributions(session, tenant_id, horizons)
        return raised

    def _state(
        self, tenant_id: str, item: KeyWork, stored: dict[str, object] | None
    ) -> WindowState | BaselineState | None:
        if stored is None:
            return None
        try:
            parsed = StoredState.model_validate(stored)
        except ValidationError:
            parsed = None
        if parsed is None or parsed.fingerprint != item.rule.fingerprint():
            # The rule changed (or the state's shape did): start this key afresh.
            log.info(
                "correlation.state_reset",
                tenant_id=tenant_id,
                rule_id=item.rule.id,
                entity_key=item.entity_key,
            )
            return None
        return parsed.state


def _observe(
    rules: Mapping[str, CorrelationRule], detections: list[DetectionV1]
) -> dict[Key, KeyWork]:
    work: dict[Key, KeyWork] = {}
    for detection in detections:
        for rule in rules.values():
            for value, observations in observe(rule, detection).items():
                key_text = entity_key(rule.key_path, value)
                key = (rule.id, key_digest(key_text))
                work.setdefault(key, KeyWork(rule, key_text)).observations.extend(observations)
    return work


def _ledger(work: dict[Key, KeyWork]) -> list[Contribution]:
    rows: dict[tuple[str, str, str], Contribution] = {}
    for (rule_id, digest), item in sorted(work.items()):
        for o in item.observations:
            rows.setdefault((rule_id, digest, o.id), Contribution(rule_id, digest, o.id, o.at))
    return list(rows.values())


def _row(key: Key, item: KeyWork, result: Evaluation) -> StateRow:
    stored = StoredState(fingerprint=item.rule.fingerprint(), state=result.state)
    return StateRow(
        rule_id=key[0],
        key_digest=key[1],
        entity_key=item.entity_key,
        state=SerializedJSON(stored.model_dump_json()),
        due_at=result.due_at,
    )


def correlation_engine(settings: CorrelationSettings) -> CorrelationEngine | None:
    """The engine for the configured rule files, or None when there are none. Invalid
    rules raise InvalidCorrelationRules: the service does not start half-configured."""
    rule_sets = load_rule_sets(settings)
    if not rule_sets:
        return None
    engine = CorrelationEngine(rule_sets, settings)
    log.info(
        "correlation.rules_loaded",
        tenants=engine.tenants(),
        rules=sum(len(r.enabled) for r in rule_sets.values()),
    )
    return engine
