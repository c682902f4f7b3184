"""Per-tenant settings: custom fields, templates, policies, entity verdicts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    String,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Field, SQLModel

from libs.common.db.columns import (
    json_column,
    tags_column,
    tz_column,
)


class CustomFieldDefinition(SQLModel, table=True):
    """A tenant's custom case field: its type and the rules its values are checked by."""

    __tablename__ = "custom_field_definitions"

    tenant_id: str = Field(primary_key=True, max_length=64)
    key: str = Field(primary_key=True, max_length=64)
    type: str = Field(max_length=16)
    label: str = Field(max_length=256)
    required: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default=text("false"))
    )
    # Allowed values of select and multi_select fields; empty for the other types.
    options: list[str] = Field(
        default_factory=list,
        sa_column=Column(ARRAY(String(256)), nullable=False, server_default=text("'{}'")),
    )
    max_length: int | None = None  # text fields only
    changed_by: str = Field(max_length=256)
    updated_at: datetime = Field(sa_column=tz_column(server_now=True))


class CaseTemplate(SQLModel, table=True):
    """A named starting point for cases opened by hand: a title prefix, tags, default
    custom field values and tasks (services/cases/templates_service.py applies it)."""

    __tablename__ = "case_templates"

    tenant_id: str = Field(primary_key=True, max_length=64)
    name: str = Field(primary_key=True, max_length=64)
    title_prefix: str = Field(default="", max_length=128)
    tags: list[str] = Field(default_factory=list, sa_column=tags_column())
    custom_fields: dict[str, Any] = Field(
        default_factory=dict,
        sa_column=Column(JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    )
    # The tasks a case opened with it starts with (services/cases/templates_schemas.py).
    tasks: list[dict[str, Any]] = Field(
        default_factory=list,
        sa_column=Column(JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    )
    changed_by: str = Field(max_length=256)
    updated_at: datetime = Field(sa_column=tz_column(server_now=True))


class TenantCasePolicy(SQLModel, table=True):
    """One version of a tenant's case policy (casestore.policy.CasePolicy as JSON). Rows are
    only ever added: the newest version is in force, the older ones are its history."""

    __tablename__ = "tenant_case_policies"

    tenant_id: str = Field(primary_key=True, max_length=64)
    version: int = Field(primary_key=True)
    document: dict[str, Any] = Field(sa_column=json_column())
    changed_by: str = Field(max_length=256)
    created_at: datetime = Field(sa_column=tz_column(server_now=True))


class AlertingPolicyVersion(SQLModel, table=True):
    """Every version of a tenant's alerting policy; the newest applies."""

    __tablename__ = "alerting_policies"

    tenant_id: str = Field(primary_key=True, max_length=64)
    version: int = Field(primary_key=True)
    policy: dict[str, Any] = Field(sa_column=json_column())
    created_at: datetime = Field(sa_column=tz_column(server_now=True))
    created_by: str = Field(max_length=256)


class EntityVerdict(SQLModel, table=True):
    """An analyst's verdict on an entity value (compared lower-cased), until it expires:
    benign keeps it from opening new cases, malicious raises the cases it is in."""

    __tablename__ = "entity_verdicts"

    tenant_id: str = Field(primary_key=True, max_length=64)
    entity_type: str = Field(primary_key=True, max_length=32)
    value: str = Field(primary_key=True, max_length=512)
    verdict: str = Field(max_length=16)
    reason: str | None = Field(default=None, max_length=4_096)
    set_by: str = Field(max_length=256)
    set_at: datetime = Field(sa_column=tz_column(server_now=True))
    expires_at: datetime | None = Field(default=None, sa_column=tz_column(nullable=True))
