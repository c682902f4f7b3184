from __future__ import annotations

from pydantic import BaseModel, Field

from libs.common.settings import CommonSettings
from services.alerting.correlation.settings import CorrelationSettings


class AlertingSection(BaseModel):
    consumer_group: str = "alerting"
    batch_max_records: int = Field(default=500, ge=1, le=10_000)
    batch_timeout_ms: int = Field(default=100, ge=1)
    # Correlation rules per tenant (docs/correlation.md); none configured: no correlation.
    correlation: CorrelationSettings = CorrelationSettings()


class AlertingSettings(CommonSettings):
    alerting: AlertingSection = AlertingSection()
