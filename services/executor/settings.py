from __future__ import annotations

from pydantic import Field, SecretStr

from libs.common.settings import CommonSettings, TenantScopedSection


class ExecutorSection(TenantScopedSection):
    consumer_group: str = "executor"
    cases_api_url: str = "http://127.0.0.1:8002"
    # Service credential for the cases API; its name is what the audit trail shows.
    cases_api_key: SecretStr = SecretStr("")
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)


class ExecutorSettings(CommonSettings):
    executor: ExecutorSection = ExecutorSection()
