"""Build DetectionV1 messages for tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from libs.common.contracts.detections import DetectionV1, RuleRefV1, Severity
from libs.common.policies.alerting import AlertingPolicy, GroupingPolicy, Strategy

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def detection(
    tenant: str,
    detection_id: str,
    *,
    host: str = "h1",
    rule: str = "r1",
    minutes: float = 0,
    severity: Severity = Severity.MEDIUM,
    occurrence: str | None = None,
    ingested_minutes: float = 0,
) -> DetectionV1:
    at = T0 + timedelta(minutes=minutes)
    return DetectionV1(
        tenant_id=tenant,
        detection_id=detection_id,
        source="test",
        format="native",
        title=f"Rule {rule}",
        rule=RuleRefV1(id=rule, name=f"Rule {rule}"),
        severity=severity,
        event_time=at,
        effective_time=at,
        ingested_at=T0 + timedelta(minutes=ingested_minutes),
        occurrence_id=occurrence,
        host=host,
    )


def host_rule_policy(window_seconds: int = 3600) -> AlertingPolicy:
    """The first grouping policy (one case per host and rule), which many tests reason in."""
    return AlertingPolicy(
        grouping=GroupingPolicy(strategy=Strategy.HOST_RULE, window_seconds=window_seconds)
    )
