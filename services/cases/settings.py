from __future__ import annotations

from pydantic import Field

from libs.common.settings import CommonSettings, HttpServerSettings


class CasesSection(HttpServerSettings):
    port: int = Field(default=8002, ge=0, le=65_535)


class CasesSettings(CommonSettings):
    cases: CasesSection = CasesSection()
