"""Alerting rules: dedup detections, group them under the tenant's policy and open or grow
cases, in one transaction.

Runs inside the message handler's transaction; it never commits."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.alertstore.changes import alerts_changed_outbox_rows
from libs.common.casestore.events import record_events
from libs.common.casestore.group_locks import lock_group_keys
from libs.common.casestore.store import CaseGrowth, CaseOpening, CaseStore, NewAlert
from libs.common.contracts.cases import CaseStatus
from libs.common.contracts.detections import DetectionV1
from libs.common.policies.alerting import DEFAULT_POLICY, AlertingPolicy, GroupingPolicy, Strategy
from libs.common.policies.chaining import ChainPlan, in_chain_order, join_segments, plan_chains
from libs.common.policies.dedup import split_repeats
from libs.common.policies.grouping import (
    CHAIN_KEY_PREFIX,
    AppliedPolicy,
    GroupKey,
    Segment,
    group_key,
    plan_segments,
)
from libs.common.policies.repository import current_policy
from libs.common.verdicts.model import BatchEntities
from libs.common.verdicts.repository import active_verdicts
from services.alerting import repository
from services.alerting.assessment import Assessment
from services.alerting.case_plans import new_case, next_slots, segment_alerts
from services.alerting.correlation.alerts import correlation_group_key
from services.alerting.correlation.service import CorrelationEngine

ACTOR = "system:alerting"


@dataclass
class BatchOutcome:
    stored: int = 0
    duplicates: int = 0  # detections whose id was already stored or earlier in the batch
    repeats: int = 0  # of those, new occurrences added to their alert's count
    cases_opened: int = 0
    cases_grown: int = 0
    # Per tenant, the alerts this batch stored or counted a repeat on.
    changed: dict[str, set[uuid.UUID]] = field(default_factory=lambda: defaultdict(set))

    def add(self, other: BatchOutcome) -> None:
        self.stored += other.stored
        self.duplicates += other.duplicates
        self.repeats += other.repeats
        self.cases_opened += other.cases_opened
        self.cases_grown += other.cases_grown
        for tenant_id, alert_ids in other.changed.items():
            self.changed[tenant_id].update(alert_ids)


def _group_key(detection: DetectionV1, policy: GroupingPolicy) -> GroupKey:
    """One case per (correlation rule, correlated entity) for correlation alerts; the
    tenant's grouping policy for everything else."""
    correlated = correlation_group_key(detection)
    if correlated is not None:
        return GroupKey(correlated, "correlation", {"correlation": correlated})
    return group_key(detection, policy)


def _reach(
    by_key: dict[str, list[DetectionV1]], window: timedelta
) -> dict[str, tuple[datetime, datetime]]:
    """Per key (but the chain strategy's one-case keys), the event times a case of the
    key must reach to take one of the batch's detections: a sliding window's reach is a
    superset of a fixed one's."""
    reach = {}
    for key, detections in by_key.items():
        if not key.startswith(CHAIN_KEY_PREFIX):
            times = [d.effective_time for d in detections]
            reach[key] = (min(times) - window, max(times) + window)
    return reach


class GroupingService:
    def __init__(
        self,
        store: CaseStore,
        default_policy: AlertingPolicy = DEFAULT_POLICY,
        correlation: CorrelationEngine | None = None,
        announce_changes: bool = False,
    ) -> None:
        self._store = store
        self._correlation = correlation
        # While the alert store is OpenSearch: name the changed alerts in the outbox
        # (alerts.changed.v1), in this transaction, for the alert indexer.
        self._announce_changes = announce_changes
        # What applies to a tenant that never stored a policy (version 0).
        self._default = default_policy

    async def process(self, session: AsyncSession, detections: list[DetectionV1]) -> BatchOutcome:
        outcome = BatchOutcome()
        by_tenant: dict[str, list[DetectionV1]] = defaultdict(list)
        for detection in detections:
            by_tenant[detection.tenant_id].append(detection)
        for tenant_id in sorted(by_tenant):
            await self._process_tenant(session, tenant_id, by_tenant[tenant_id], outcome)
        # Correlation after all grouping locks, tenant by tenant: it takes its own key
        # locks, and its hits come back as synthetic detections grouped like any other in
        # this same transaction. Their ids are deterministic: a redelivery dedups them.
        if self._correlation is not None:
            for tenant_id in sorted(by_tenant):
                raised = await self._correlation.correlate(session, tenant_id, by_tenant[tenant_id])
                if raised:
                    await self._process_tenant(session, tenant_id, raised, outcome)
        if self._announce_changes:
            for tenant_id, alert_ids in sorted(outcome.changed.items()):
                if alert_ids:
                    rows = alerts_changed_outbox_rows(self._store.source, tenant_id, alert_ids)
                    await record_events(session, self._store.source, [], rows)
        return outcome

    async def _policy(self, session: AsyncSession, tenant_id: str) -> tuple[int, AlertingPolicy]:
        stored = await current_policy(session, tenant_id)
        return (stored.version, stored.policy) if stored.version else (0, self._default)

    async def _process_tenant(
        self,
        session: AsyncSession,
        tenant_id: str,
        detections: list[DetectionV1],
        outcome: BatchOutcome,
    ) -> None:
        version, policy = await self._policy(session, tenant_id)
        applied = AppliedPolicy(version, policy.grouping)
        entities = BatchEntities(detections)
        verdicts = await active_verdicts(session, tenant_id, entities.all())
        assessment = Assessment(policy, verdicts, entities)
        groups: dict[str, GroupKey] = {}
        by_key: dict[str, dict[str, DetectionV1]] = defaultdict(dict)
        # Counted on an alert, never stored: (detection, the alert's detection id).
        repeats: list[tuple[DetectionV1, str]] = []
        for detection in detections:
            group = _group_key(detection, policy.grouping)
            groups.setdefault(group.key, group)
            first = by_key[group.key].setdefault(detection.detection_id, detection)
            if first is not detection:
                repeats.append((detection, detection.detection_id))
        fingerprints = {
            d.detection_id: fp for d in detections if (fp := assessment.fingerprint(d)) is not None
        }
        # The key locks are the case store's too: merges move slots under them. Group keys,
        # fingerprints and (chain strategy) matched events in one sorted call, so instances
        # take them in one order. The event locks make two instances holding detections of
        # one event take turns: the second then finds the first's alert in the index.
        locks = [*by_key, *(f"fingerprint:{fp}" for fp in sorted(set(fingerprints.values())))]
        if policy.grouping.strategy is Strategy.CHAIN:
            locks += sorted({f"event:{e}" for d in detections for e in d.matched_event_ids})
        await lock_group_keys(session, tenant_id, locks)
        # Checked under the locks: a detection always maps to the same key, so a
        # concurrent instance holding the same detection waits here and then sees it.
        stored = await repository.stored_detection_ids(
            session, tenant_id, [d for group in by_key.values() for d in group]
        )
        fresh = [d for group in by_key.values() for d_id, d in group.items() if d_id not in stored]
        repeats += [
            (d, d_id) for group in by_key.values() for d_id, d in group.items() if d_id in stored
        ]
        if fingerprints:
            anchors = await repository.latest_by_fingerprint(
                session,
                tenant_id,
                sorted(
                    {fingerprints[d.detection_id] for d in fresh if d.detection_id in fingerprints}
                ),
            )
            window = timedelta(seconds=policy.dedup.window_seconds)
            fresh, same = split_repeats(fresh, fingerprints, anchors, window)
            repeats += same
        await self._group(session, tenant_id, fresh, groups, applied, assessment, outcome)
        # After the inserts: a repeat of a detection first seen in this batch counts too.
        outcome.duplicates += len(repeats)
        counted = await repository.count_repeats(session, tenant_id, repeats)
        outcome.repeats += counted.occurrences
        outcome.changed[tenant_id].update(counted.alert_ids)

    async def _group(
        self,
        session: AsyncSession,
        tenant_id: str,
        fresh: list[DetectionV1],
        groups: dict[str, GroupKey],
        applied: AppliedPolicy,
        assessment: Assessment,
        outcome: BatchOutcome,
    ) -> None:
        by_key: dict[str, list[DetectionV1]] = defaultdict(list)
        planned: list[tuple[str, Segment]] = []
        chains: ChainPlan | None = None
        if applied.grouping.strategy is Strategy.CHAIN:
            chains = await self._chains(session, tenant_id, fresh, applied.grouping)
            for joined, segment in join_segments(chains):
                groups[joined.key] = joined
                planned.append((joined.key, segment))
            # In chain order, so a detection's leader comes first among equal times.
            for detection in in_chain_order(fresh):
                keyed = chains.keys.get(detection.detection_id)
                if keyed is not None:
                    groups.setdefault(keyed.key, keyed)
                    by_key[keyed.key].append(detection)
        else:
            for detection in fresh:
                by_key[_group_key(detection, applied.grouping).key].append(detection)
        slots = await repository.load_slots(session, tenant_id, sorted(by_key))
        # Under the key locks: a late detection finds the earlier open case it belongs
        # to, not only the key's latest (so batch cuts do not decide the cases).
        reach = _reach(by_key, applied.window)
        others = await repository.open_cases_of_keys(session, tenant_id, reach)
        for key in sorted(by_key):
            segments = plan_segments(
                slots.get(key),
                by_key[key],
                applied.grouping,
                assessment.may_open,
                others.get(key, []),
            )
            planned += [(key, segment) for segment in segments]
        if planned:
            await self._write(
                session, tenant_id, planned, groups, applied, assessment, outcome, chains
            )
            await repository.save_slots(session, tenant_id, next_slots(slots, planned))

    async def _chains(
        self,
        session: AsyncSession,
        tenant_id: str,
        fresh: list[DetectionV1],
        grouping: GroupingPolicy,
    ) -> ChainPlan:
        """The chain strategy's decisions for the batch, from one read of the open cases
        its events are indexed under (read under the batch's event locks)."""
        events = sorted({e for d in fresh for e in d.matched_event_ids})
        candidates = await repository.chain_candidates(session, tenant_id, events)
        return plan_chains(fresh, candidates, grouping, lambda d: _group_key(d, grouping))

    async def _write(
        self,
        session: AsyncSession,
        tenant_id: str,
        planned: list[tuple[str, Segment]],
        groups: dict[str, GroupKey],
        applied: AppliedPolicy,
        assessment: Assessment,
        outcome: BatchOutcome,
        chains: ChainPlan | None,
    ) -> None:
        def alerts(key: str, seg: Segment) -> list[NewAlert]:
            return segment_alerts(groups[key], seg, applied, assessment, chains)

        # One write for the whole batch: the case store opens and grows every case at once.
        openings = [
            CaseOpening(new_case(tenant_id, groups[key], seg, assessment), alerts(key, seg))
            for key, seg in planned
            if seg.case_id is None and seg.held is None
        ]
        await self._reopen(session, tenant_id, [seg for _, seg in planned if seg.reopens])
        growths = [
            CaseGrowth(seg.case_id, alerts(key, seg))
            for key, seg in planned
            if seg.case_id is not None
        ]
        uncased = [
            alert for key, seg in planned if seg.held is not None for alert in alerts(key, seg)
        ]
        written = await self._store.apply_grouping(
            session, tenant_id, openings, growths, ACTOR, uncased
        )
        outcome.stored += len(written.inserted)
        outcome.changed[tenant_id].update(written.inserted)
        outcome.cases_opened += len(openings)
        outcome.cases_grown += len(growths)

    async def _reopen(self, session: AsyncSession, tenant_id: str, segments: list[Segment]) -> None:
        """Finished cases the policy reopens, through the store's workflow (audited)."""
        for segment in segments:
            assert segment.case_id is not None
            await self._store.change_status(
                session,
                tenant_id,
                segment.case_id,
                CaseStatus.IN_PROGRESS,
                ACTOR,
                reason=f"detection {segment.detections[0].detection_id} arrived within "
                "the case's grouping window (policy: reopen finished cases)",
            )
