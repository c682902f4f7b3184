"""`alerts.v1`: an alert stored by alerting, with the case it was grouped into; and
`alerts.changed.v1`: which alerts changed, for the alert indexer."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from libs.common.contracts.detections import RuleRefV1, Severity
from libs.common.contracts.envelope import TenantId

ALERT_EVENT_TYPE = "casestream.alert.v1"


class AlertV1(BaseModel):
    schema_version: Literal[1] = 1
    alert_id: uuid.UUID
    tenant_id: TenantId
    detection_id: str = Field(min_length=1, max_length=256)
    case_id: uuid.UUID
    title: str
    severity: Severity
    rule: RuleRefV1
    host: str | None = None
    group_key: str
    effective_time: datetime
    created_at: datetime


ALERTS_CHANGED_EVENT_TYPE = "casestream.alerts.changed.v1"
MAX_CHANGED_ALERTS = 1_000


class AlertsChangedV1(BaseModel):
    """Alerts that alerting stored or whose counts it changed in one committed batch,
    with or without a case. Written to the outbox in the same transaction as the change,
    only while the alert store is OpenSearch; its alert indexer re-reads these alerts from
    Postgres and writes them to OpenSearch."""

    schema_version: Literal[1] = 1
    tenant_id: TenantId
    alert_ids: list[uuid.UUID] = Field(min_length=1, max_length=MAX_CHANGED_ALERTS)
    changed_at: datetime
