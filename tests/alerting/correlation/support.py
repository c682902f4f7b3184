"""Rule sets and queries shared by the correlation tests on real infrastructure."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import text

from libs.common.contracts.detections import DetectionV1, EntityV1
from libs.common.db.engine import SessionFactory
from services.alerting.correlation.loading import parse_rule_set
from services.alerting.correlation.rules import RuleSet
from tests.support.detections import detection

RULES = """
rules:
  - id: spray
    name: Password spray against one account
    title: "Password spray against {entity}"
    type: event_count
    severity: critical
    entity: user
    match: {rule_id: failed-logon}
    threshold: 3
    window: 10m
    mitre_techniques: [T1110.003]
  - id: kill-chain
    name: Discovery, execution, persistence
    type: temporal_ordered
    severity: high
    entity: host
    steps: [{rule_id: discovery}, {rule_id: execution}, {rule_id: persistence}]
    window: 1h
  - id: same-session
    name: Phishing click and download in one session
    type: join
    severity: high
    left: {rule_id: phish-click}
    right: {rule_id: download}
    by: raw.session
    window: 30m
  - id: logon-spike
    name: Unusual number of logons
    type: baseline_deviation
    severity: medium
    entity: user
    match: {rule_id: logon}
    bucket: 1h
    history: 6
    min_history: 3
    k: 3
  - id: backup-unfinished
    name: Backup started but never finished
    type: missing_event
    severity: low
    entity: host
    first: {rule_id: backup-start}
    followed_by: {rule_id: backup-end}
    window: 30m
"""


def rule_set() -> RuleSet:
    return parse_rule_set(RULES, "tests")


def by_user(tenant: str, detection_id: str, user: str, **kwargs: Any) -> DetectionV1:
    d = detection(tenant, detection_id, **kwargs)
    return d.model_copy(update={"entities": [EntityV1(type="user", value=user, role="actor")]})


def with_raw(tenant: str, detection_id: str, raw: dict[str, Any], **kwargs: Any) -> DetectionV1:
    return detection(tenant, detection_id, **kwargs).model_copy(update={"raw": raw})


async def correlation_alerts(sessions: SessionFactory, tenant: str) -> list[dict[str, Any]]:
    """The tenant's correlation alerts with their case, oldest event first."""
    async with sessions() as session:
        rows = await session.execute(
            text(
                "SELECT a.detection_id, a.title, a.severity, a.rule_id, a.group_key, a.grouping,"
                " a.detection, c.title AS case_title, c.number AS case_number"
                " FROM alerts a JOIN cases c ON c.id = a.case_id"
                " WHERE a.tenant_id = :t AND CAST(a.detection AS json)->>'format' = 'correlation'"
                " ORDER BY a.effective_time, a.detection_id"
            ),
            {"t": tenant},
        )
        # The detection is stored as its JSON text.
        return [{**row._mapping, "detection": json.loads(row.detection)} for row in rows]


def matched_ids(alert: dict[str, Any]) -> list[str]:
    return list(alert["detection"]["raw"]["correlation"]["matched_detection_ids"])


async def count_rows(sessions: SessionFactory, table: str, tenant: str) -> int:
    assert table in ("correlation_states", "correlation_contributions", "alerts", "cases")
    async with sessions() as session:
        value = await session.scalar(
            text(f"SELECT count(*) FROM {table} WHERE tenant_id = :t"),  # noqa: S608
            {"t": tenant},
        )
    return int(value or 0)
