from __future__ import annotations

from pydantic import BaseModel, Field

from libs.common.casestore.sla import DEFAULT_PRE_BREACH_RATIO
from libs.common.settings import ApiCredential, CommonSettings, HttpServerSettings


class SlaScannerSettings(BaseModel):
    enabled: bool = True
    interval_seconds: float = Field(default=30.0, gt=0, le=3_600)
    # sla.pre_breach when this share of a target's time has passed (0.8: at 80%).
    pre_breach_ratio: float = Field(default=DEFAULT_PRE_BREACH_RATIO, gt=0, lt=1)
    batch_size: int = Field(default=500, ge=1, le=10_000)


class CasesSection(HttpServerSettings):
    port: int = Field(default=8002, ge=0, le=65_535)
    # Tenant admins: tenant-wide settings, the case policy (/api/v1/admin/case-policy:
    # workflow, SLA targets) and the alerting policy (/api/v1/admin/alerting-policy).
    admin_api_keys: list[ApiCredential] = Field(default_factory=list)
    sla_scanner: SlaScannerSettings = SlaScannerSettings()
    # Largest attachment accepted (413 attachment_too_large above); the store's settings
    # are CASESTREAM__OBJECT_STORE__* (libs/common/settings.py).
    max_attachment_bytes: int = Field(default=25 * 1024 * 1024, ge=1, le=5 * 1024**3)


class CasesSettings(CommonSettings):
    cases: CasesSection = CasesSection()
