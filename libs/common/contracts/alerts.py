"""`alerts.v1`: an alert stored by alerting, with the case it was grouped into."""

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
