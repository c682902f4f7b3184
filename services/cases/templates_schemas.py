"""API shapes of case templates."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from libs.common.casestore.custom_fields import MAX_DEFINITIONS
from libs.common.casestore.fields import MAX_TAGS
from libs.common.casestore.tasks import (
    MAX_TASK_ASSIGNEE_LENGTH,
    MAX_TASK_DESCRIPTION_LENGTH,
    MAX_TASK_TITLE_LENGTH,
)

TEMPLATE_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
MAX_TITLE_PREFIX = 128
MAX_TEMPLATES = 100
# Below the per-case task limit, so a case opened from any template is within it.
MAX_TEMPLATE_TASKS = 50
MAX_DUE_IN_MINUTES = 366 * 24 * 60


class TemplateTask(BaseModel):
    """A task every case opened with the template starts with (status todo)."""

    model_config = ConfigDict(extra="forbid", from_attributes=True)

    title: str = Field(min_length=1, max_length=MAX_TASK_TITLE_LENGTH)
    description: str | None = Field(
        default=None, max_length=MAX_TASK_DESCRIPTION_LENGTH, description="Markdown"
    )
    assignee: str | None = Field(default=None, min_length=1, max_length=MAX_TASK_ASSIGNEE_LENGTH)
    due_in_minutes: int | None = Field(
        default=None,
        ge=1,
        le=MAX_DUE_IN_MINUTES,
        description="due this many minutes after the case is opened",
    )

    @field_validator("title", "assignee")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("cannot be blank")
        return value


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
    tasks: list[TemplateTask] = Field(
        default_factory=list,
        max_length=MAX_TEMPLATE_TASKS,
        description="tasks a case opened with it starts with, in this order",
    )


class CaseTemplate(CaseTemplateSpec):
    name: str = Field(pattern=TEMPLATE_NAME_PATTERN)
