from __future__ import annotations

from pydantic import Field

from libs.common.settings import ApiCredential, CommonSettings, HttpServerSettings


class CasesSection(HttpServerSettings):
    port: int = Field(default=8002, ge=0, le=65_535)
    # Tenant admins who may read and change the tenant's case policy (workflow, SLA targets)
    # through /api/v1/admin/case-policy; analysts' keys cannot.
    admin_api_keys: list[ApiCredential] = Field(default_factory=list)


class CasesSettings(CommonSettings):
    cases: CasesSection = CasesSection()
