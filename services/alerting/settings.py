from __future__ import annotations

from pydantic import BaseModel, Field

from libs.common.settings import CommonSettings
from services.alerting.correlation.settings import CorrelationSettings


class AlertingSection(BaseModel):
    consumer_group: str = "alerting"
    batch_max_records: int = Field(default=500, ge=1, le=10_000)
    batch_timeout_ms: int = Field(default=100, ge=1)
    # Detections of one (tenant, host, rule) whose event times lie within this many
    # seconds of a case's alerts join that case (sliding window on event time).
    group_window_seconds: int = Field(default=24 * 3600, ge=60, le=7 * 24 * 3600)
    # Correlation rules per tenant (docs/correlation.md); none configured: no correlation.
    correlation: CorrelationSettings = CorrelationSettings()


class AlertingSettings(CommonSettings):
    alerting: AlertingSection = AlertingSection()
