from __future__ import annotations

from pydantic import Field, SecretStr

from libs.common.settings import CommonSettings, TenantScopedSection


class NotifierSection(TenantScopedSection):
    consumer_group: str = "notifier"
    webhook_urls: list[str] = Field(default_factory=list)
    # Standard Webhooks secret: "whsec_" + base64 of at least 24 random bytes.
    webhook_secret: SecretStr = SecretStr("")
    event_types: list[str] = Field(default_factory=lambda: ["case.opened"])
    timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    max_attempts: int = Field(default=4, ge=1, le=20)
    # Off by default: the SSRF guard refuses loopback/private/link-local targets.
    allow_private_targets: bool = False


class NotifierSettings(CommonSettings):
    notifier: NotifierSection = NotifierSection()
