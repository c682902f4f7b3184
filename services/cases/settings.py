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


class CountCompactionSettings(BaseModel):
    enabled: bool = True
    interval_seconds: float = Field(default=10.0, gt=0, le=3_600)


class ListSettings(BaseModel):
    # A list filtered on more than status, severity and classification counts its
    # matches itself, up to this many; past it the counts are marked inexact.
    count_limit: int = Field(default=10_000, ge=100, le=10_000_000)


class RetentionPurgerSettings(BaseModel):
    """The retention purger (services/cases/retention_purger.py). It only acts for tenants
    whose case policy sets retention_days."""

    enabled: bool = True
    # Retention counts in days: a check every five minutes is prompt enough, and a tick
    # that finds nothing due costs one indexed query per tenant with a policy.
    interval_seconds: float = Field(default=300.0, gt=0, le=86_400)
    # Cases purged per tenant per round (each case in its own transaction). A full round
    # starts the next one at once, so a backlog drains without waiting for the interval.
    batch_size: int = Field(default=100, ge=1, le=10_000)


class CasesSection(HttpServerSettings):
    port: int = Field(default=8002, ge=0, le=65_535)
    # Tenant admins: tenant-wide settings, the case policy (/api/v1/admin/case-policy:
    # workflow, SLA targets) and the alerting policy (/api/v1/admin/alerting-policy).
    admin_api_keys: list[ApiCredential] = Field(default_factory=list)
    sla_scanner: SlaScannerSettings = SlaScannerSettings()
    count_compaction: CountCompactionSettings = CountCompactionSettings()
    listing: ListSettings = ListSettings()
    retention_purger: RetentionPurgerSettings = RetentionPurgerSettings()
    # Largest attachment accepted (413 attachment_too_large above); the store's settings
    # are CASESTREAM__OBJECT_STORE__* (libs/common/settings.py).
    max_attachment_bytes: int = Field(default=25 * 1024 * 1024, ge=1, le=5 * 1024**3)
    # Concurrent manual creates committed in one transaction at most, and transactions
    # of such batches under way at once (create_batcher.py).
    create_batch_max: int = Field(default=64, ge=1, le=500)
    create_batches_in_flight: int = Field(default=2, ge=1, le=8)


class CasesSettings(CommonSettings):
    cases: CasesSection = CasesSection()
