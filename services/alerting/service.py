"""Alerting rules: dedup detections, group them and open or grow cases, in one transaction.

Runs inside the message handler's transaction; it never commits."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.casestore.store import CaseStore, NewAlert, NewCase
from libs.common.contracts.detections import DetectionV1
from services.alerting import repository
from services.alerting.grouping import (
    Segment,
    case_description,
    case_title,
    group_key,
    plan_segments,
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
    def __init__(self, store: CaseStore, window: timedelta) -> None:
        self._store = store
        self._window = window

    async def process(self, session: AsyncSession, detections: list[DetectionV1]) -> BatchOutcome:
        outcome = BatchOutcome()
        by_tenant: dict[str, list[DetectionV1]] = defaultdict(list)
        for detection in detections:
            by_tenant[detection.tenant_id].append(detection)
        for tenant_id in sorted(by_tenant):
            await self._process_tenant(session, tenant_id, by_tenant[tenant_id], outcome)
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
        for key in sorted(by_key):
            fresh = [d for d_id, d in by_key[key].items() if d_id not in stored]
            outcome.duplicates += len(by_key[key]) - len(fresh)
            if fresh:
                slot = await self._group(session, tenant_id, key, slots.get(key), fresh, outcome)
                await repository.save_slot(session, tenant_id, slot)

    async def _group(
        self,
        session: AsyncSession,
        tenant_id: str,
        key: str,
        slot: OpenSlot | None,
        detections: list[DetectionV1],
        outcome: BatchOutcome,
    ) -> OpenSlot:
        for segment in plan_segments(slot, detections, self._window):
            alerts = [_new_alert(detection, key) for detection in segment.detections]
            case_id = await self._apply(session, tenant_id, key, segment, alerts, outcome)
            times = [d.effective_time for d in segment.detections]
            if slot is not None and slot.case_id == case_id:
                slot.window_start = min(slot.window_start, *times)
                slot.window_end = max(slot.window_end, *times)
            else:
                slot = OpenSlot(key, case_id, "new", min(times), max(times))
        assert slot is not None
        return slot

    async def _apply(
        self,
        session: AsyncSession,
        tenant_id: str,
        key: str,
        segment: Segment,
        alerts: list[NewAlert],
        outcome: BatchOutcome,
    ) -> uuid.UUID:
        if segment.case_id is not None:
            inserted = await self._store.attach_alerts(
                session, tenant_id, segment.case_id, alerts, ACTOR
            )
            outcome.stored += len(inserted)
            outcome.cases_grown += 1
            return segment.case_id
        first = segment.detections[0]
        top = max((d.severity for d in segment.detections), key=lambda s: s.rank)
        case, inserted = await self._store.open_case(
            session,
            NewCase(
                tenant_id=tenant_id,
                title=case_title(first),
                severity=top,
                description=case_description(first),
                group_key=key,
                host=first.host,
                rule_id=first.rule.id,
            ),
            alerts,
            ACTOR,
        )
        outcome.stored += len(inserted)
        outcome.cases_opened += 1
        return case.id


def _new_alert(detection: DetectionV1, key: str) -> NewAlert:
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
            "detection": detection.model_dump(mode="json"),
        },
    )
