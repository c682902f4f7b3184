"""Alerting rules: dedup detections, group them and open or grow cases, in one transaction.

Runs inside the message handler's transaction; it never commits."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.casestore.store import CaseGrowth, CaseOpening, CaseStore, NewAlert, NewCase
from libs.common.contracts.detections import DetectionV1
from libs.common.db.jsonb import SerializedJSON
from services.alerting import repository
from services.alerting.correlation.service import CorrelationEngine
from services.alerting.grouping import (
    Reason,
    Segment,
    case_description,
    case_title,
    group_key,
    plan_segments,
    provenance,
)
from services.alerting.repository import OpenSlot

ACTOR = "system:alerting"


@dataclass
class BatchOutcome:
    stored: int = 0
    duplicates: int = 0
    cases_opened: int = 0
    cases_grown: int = 0


class GroupingService:
    def __init__(
        self,
        store: CaseStore,
        window: timedelta,
        correlation: CorrelationEngine | None = None,
    ) -> None:
        self._store = store
        self._window = window
        self._correlation = correlation

    async def process(self, session: AsyncSession, detections: list[DetectionV1]) -> BatchOutcome:
        outcome = BatchOutcome()
        by_tenant: dict[str, list[DetectionV1]] = defaultdict(list)
        for detection in detections:
            by_tenant[detection.tenant_id].append(detection)
        for tenant_id in sorted(by_tenant):
            await self._process_tenant(session, tenant_id, by_tenant[tenant_id], outcome)
        # --- correlation (services/alerting/correlation) ---------------------------------
        # After all grouping locks, tenant by tenant: correlation takes its key locks, and
        # its hits come back as synthetic detections grouped like any other, in this same
        # transaction. Their ids are deterministic, so a redelivery dedups them above.
        if self._correlation is not None:
            for tenant_id in sorted(by_tenant):
                raised = await self._correlation.correlate(session, tenant_id, by_tenant[tenant_id])
                if raised:
                    await self._process_tenant(session, tenant_id, raised, outcome)
        # --- end correlation -------------------------------------------------------------
        return outcome

    async def _process_tenant(
        self,
        session: AsyncSession,
        tenant_id: str,
        detections: list[DetectionV1],
        outcome: BatchOutcome,
    ) -> None:
        by_key: dict[str, dict[str, DetectionV1]] = defaultdict(dict)
        for detection in detections:
            by_key[group_key(detection)].setdefault(detection.detection_id, detection)
        await repository.lock_group_keys(session, tenant_id, by_key)
        # Checked under the group locks: a detection always maps to the same key, so a
        # concurrent instance holding the same detection waits here and then sees it.
        stored = await repository.stored_detection_ids(
            session, tenant_id, [d for group in by_key.values() for d in group]
        )
        slots = await repository.load_slots(session, tenant_id, sorted(by_key))
        planned: list[tuple[str, Segment]] = []
        for key in sorted(by_key):
            fresh = [d for d_id, d in by_key[key].items() if d_id not in stored]
            outcome.duplicates += len(by_key[key]) - len(fresh)
            if fresh:
                planned += [
                    (key, seg) for seg in plan_segments(slots.get(key), fresh, self._window)
                ]
        if not planned:
            return
        # One write for the whole batch: the case store opens and grows every case at once.
        openings = [(key, seg) for key, seg in planned if seg.case_id is None]
        growths = [(key, seg) for key, seg in planned if seg.case_id is not None]
        written = await self._store.apply_grouping(
            session,
            tenant_id,
            [
                CaseOpening(_new_case(tenant_id, key, seg), _alerts(key, seg, self._window))
                for key, seg in openings
            ],
            [
                CaseGrowth(seg.case_id, _alerts(key, seg, self._window))
                for key, seg in growths
                if seg.case_id
            ],
            ACTOR,
        )
        for (_, segment), case in zip(openings, written.opened, strict=True):
            segment.case_id = case.id
        outcome.stored += len(written.inserted)
        outcome.cases_opened += len(openings)
        outcome.cases_grown += len(growths)
        await repository.save_slots(session, tenant_id, _next_slots(slots, planned))


def _next_slots(slots: dict[str, OpenSlot], planned: list[tuple[str, Segment]]) -> list[OpenSlot]:
    """Each key's slot after the batch: its last segment's case, with the event-time span
    grown when that case is the one the slot already held."""
    latest: dict[str, OpenSlot] = {}
    for key, segment in planned:  # segments of a key come in time order
        assert segment.case_id is not None
        times = [d.effective_time for d in segment.detections]
        slot = latest.get(key) or slots.get(key)
        if slot is not None and slot.case_id == segment.case_id:
            slot.window_start = min(slot.window_start, *times)
            slot.window_end = max(slot.window_end, *times)
            latest[key] = slot
        else:
            latest[key] = OpenSlot(key, segment.case_id, "new", min(times), max(times))
    return list(latest.values())


def _new_case(tenant_id: str, key: str, segment: Segment) -> NewCase:
    first = segment.detections[0]
    return NewCase(
        tenant_id=tenant_id,
        title=case_title(first),
        severity=max((d.severity for d in segment.detections), key=lambda s: s.rank),
        description=case_description(first),
        group_key=key,
        host=first.host,
        rule_id=first.rule.id,
    )


def _alerts(key: str, segment: Segment, window: timedelta) -> list[NewAlert]:
    opened = segment.case_id is None
    return [
        _new_alert(
            detection,
            key,
            provenance(
                detection,
                key,
                window,
                segment.reason if opened and n == 0 else Reason.JOINED_OPEN_CASE,
                opened=opened and n == 0,
            ),
        )
        for n, detection in enumerate(segment.detections)
    ]


def _new_alert(detection: DetectionV1, key: str, grouping: dict[str, Any]) -> NewAlert:
    return NewAlert(
        id=uuid.uuid4(),
        tenant_id=detection.tenant_id,
        severity=detection.severity,
        effective_time=detection.effective_time,
        columns={
            "detection_id": detection.detection_id,
            "title": detection.title[:1_024],
            "rule_id": detection.rule.id,
            "rule_name": detection.rule.name,
            "host": detection.host,
            "source": detection.source,
            "group_key": key,
            "event_time": detection.event_time,
            "time_fallback": detection.time_fallback,
            "ingested_at": detection.ingested_at,
            "detection": SerializedJSON(detection.model_dump_json()),
            "grouping": grouping,
        },
    )
