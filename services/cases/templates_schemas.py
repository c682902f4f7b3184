"""API shapes of case templates."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from libs.common.casestore.custom_fields import MAX_DEFINITIONS
from libs.common.casestore.fields import MAX_TAGS

TEMPLATE_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
MAX_TITLE_PREFIX = 128
MAX_TEMPLATES = 100


class CaseTemplateSpec(BaseModel):
    """What a case opened with this template starts with; the opener's values win."""

    model_config = ConfigDict(extra="forbid", from_attributes=True)

    title_prefix: str = Field(
        default="",
        max_length=MAX_TITLE_PREFIX,
        description='put before the title, e.g. "[Phishing] "',
    )
    tags: list[str] = Field(default_factory=list, max_length=MAX_TAGS)
    custom_fields: dict[str, Any] = Field(
        default_factory=dict,
        max_length=MAX_DEFINITIONS,
        description="default values of the tenant's custom fields",
    )


class CaseTemplate(CaseTemplateSpec):
    name: str = Field(pattern=TEMPLATE_NAME_PATTERN)
