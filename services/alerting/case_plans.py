"""From planned segments to what the case store writes: new cases, alert rows, and each
group key's slot afterwards. Pure functions."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

from libs.common.casestore.store import NewAlert, NewCase
from libs.common.contracts.detections import DetectionV1, Severity
from libs.common.db.ids import new_row_ids
from libs.common.db.jsonb import SerializedJSON
from libs.common.policies.chaining import ChainPlan, chain_provenance
from libs.common.policies.grouping import (
    CHAIN_KEY_PREFIX,
    AppliedPolicy,
    GroupKey,
    OpenSlot,
    Reason,
    Segment,
    provenance,
)
from services.alerting.assessment import Assessment
from services.alerting.case_text import case_description, case_title


def new_case(tenant_id: str, group: GroupKey, segment: Segment, assessment: Assessment) -> NewCase:
    first = segment.detections[0]
    return NewCase(
        tenant_id=tenant_id,
        title=case_title(segment.detections, continued=segment.continues is not None),
        severity=max((assessment.severity(d) for d in segment.detections), key=_rank),
        description=case_description(segment.detections),
        group_key=group.key,
        host=first.host,
        rule_id=first.rule.id,
        id=segment.new_case_id,
        continues_case_id=segment.continues,
    )


def segment_alerts(
    group: GroupKey,
    segment: Segment,
    policy: AppliedPolicy,
    assessment: Assessment,
    chains: ChainPlan | None = None,
) -> list[NewAlert]:
    """The segment's alert rows with their provenance. `chains`: the batch's chain plan
    when the tenant groups by the chain strategy (its alerts' events are then indexed)."""
    opened = segment.case_id is None and segment.held is None
    alerts = []
    ids = new_row_ids(len(segment.detections))
    for n, detection in enumerate(segment.detections):
        severity = assessment.severity(detection)
        first = n == 0 and (opened or segment.reopens)
        reason = segment.reason if first else Reason.JOINED_OPEN_CASE
        grouping = provenance(detection, group, policy, severity, reason, opened and n == 0)
        grouping.update(assessment.provenance(detection))
        if segment.held is not None:
            grouping.update(decision="no_case", reason=segment.held.value)
        if segment.continues is not None:
            grouping["continues_case_id"] = str(segment.continues)
        if chains is not None:
            grouping.update(chain_provenance(chains, policy.grouping, detection, segment))
        alert = _new_alert(
            ids[n],
            detection,
            group.key,
            severity,
            grouping,
            assessment.fingerprint(detection),
            assessment.entities.of(detection),
        )
        if chains is not None and detection.matched_event_ids:
            alert = replace(alert, matched_event_ids=tuple(detection.matched_event_ids))
        alerts.append(alert)
    return alerts


def _new_alert(
    alert_id: uuid.UUID,
    detection: DetectionV1,
    key: str,
    severity: Severity,
    grouping: dict[str, Any],
    fingerprint: str | None,
    entities: tuple[tuple[str, str], ...],
) -> NewAlert:
    return NewAlert(
        id=alert_id,
        tenant_id=detection.tenant_id,
        severity=severity,
        effective_time=detection.effective_time,
        entities=entities,
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
            "detection": SerializedJSON(detection.stored_json()),
            "grouping": grouping,
            "occurrence_id": detection.occurrence_id,
            "fingerprint": fingerprint,
            "last_seen": detection.ingested_at,
        },
    )


def next_slots(slots: dict[str, OpenSlot], planned: list[tuple[str, Segment]]) -> list[OpenSlot]:
    """The slots the batch changes: each key's slot moves to the case its batch wrote to
    with the latest event time, unless the slot's case lies later still and was not
    deleted (a late detection joining an earlier case leaves the slot where it is)."""
    latest: dict[str, OpenSlot] = {}
    for key, segment in planned:
        # Chain keys name one case (a join, or a case of one detection): no slot to keep.
        if segment.span is None or key.startswith(CHAIN_KEY_PREFIX):
            continue
        best = latest.get(key)
        if best is None or segment.span[1] > best.window_end:
            start, end = segment.span
            latest[key] = OpenSlot(key, segment.target_case_id, "new", start, end)
    return [
        slot
        for key, slot in latest.items()
        if (old := slots.get(key)) is None
        or old.case_deleted
        or old.case_id == slot.case_id
        or old.window_end <= slot.window_end
    ]


def _rank(severity: Severity) -> int:
    return severity.rank
