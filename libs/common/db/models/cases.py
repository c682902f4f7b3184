"""Cases, their entities, their numbers and their audit trail. What is done to a case
(notes, tasks, attachments, merges, bulk jobs) is in `case_work`."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Computed,
    Float,
    Identity,
    Index,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR
from sqlmodel import Field, SQLModel

from libs.common.contracts.detections import Severity
from libs.common.db.columns import (
    json_column,
    tags_column,
    tenant_column,
    tz_column,
)

# The cases alerting may still group into, by key: live, opened by grouping, not done
# (lifecycle.DONE_STATUSES; a test holds the two together). Repeated in alerting's query
# (services/alerting/repository.py), so PostgreSQL can prove it and use the partial index.
OPEN_CASES_OF_KEYS = (
    "group_key IS NOT NULL AND deleted_at IS NULL"
    " AND status NOT IN ('resolved', 'closed', 'merged')"
)


class Case(SQLModel, table=True):
    __tablename__ = "cases"
    __table_args__ = (
        UniqueConstraint("tenant_id", "number"),
        Index("ix_cases_tenant_created", "tenant_id", text("created_at DESC"), text("id DESC")),
        Index("ix_cases_tenant_status_created", "tenant_id", "status", text("created_at DESC")),
        # One per list sort (a btree scans both ways, so asc and desc share it) and per
        # selective filter: a page is a short index range scan even at 1M cases a tenant.
        Index("ix_cases_tenant_updated", "tenant_id", "updated_at", "id"),
        Index(
            "ix_cases_tenant_ack_due",
            "tenant_id",
            text("COALESCE(ack_due_at, 'infinity'::timestamp with time zone)"),
            "id",
        ),
        Index(
            "ix_cases_tenant_resolve_due",
            "tenant_id",
            text("COALESCE(resolve_due_at, 'infinity'::timestamp with time zone)"),
            "id",
        ),
        Index("ix_cases_tenant_assignee_created", "tenant_id", "assignee", "created_at"),
        Index("ix_cases_tenant_host", "tenant_id", "host"),
        Index("ix_cases_tenant_rule_id", "tenant_id", "rule_id"),
        # Counts per status of the live cases: an index-only scan.
        Index(
            "ix_cases_tenant_status_live",
            "tenant_id",
            "status",
            postgresql_where=text("deleted_at IS NULL"),
        ),
        # The retention purger's two ways in (closed, or deleted, long enough ago) and its
        # walk from a case to the cases merged into it; all small partial indexes.
        Index(
            "ix_cases_tenant_closed_retention",
            "tenant_id",
            "closed_at",
            "id",
            postgresql_where=text("status = 'closed'"),
        ),
        Index(
            "ix_cases_tenant_deleted_retention",
            "tenant_id",
            "deleted_at",
            "id",
            postgresql_where=text("deleted_at IS NOT NULL"),
        ),
        # Alerting's read of a group key's open cases, so a late detection finds the one
        # its event time belongs to (services/alerting/repository.open_cases_of_keys).
        Index(
            "ix_cases_tenant_group_key_open",
            "tenant_id",
            "group_key",
            "last_event_at",
            postgresql_where=text(OPEN_CASES_OF_KEYS),
        ),
        Index(
            "ix_cases_tenant_merged_into",
            "tenant_id",
            "merged_into",
            postgresql_where=text("merged_into IS NOT NULL"),
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    tenant_id: str = Field(sa_column=tenant_column())
    number: int
    title: str = Field(max_length=1_024)
    description: str | None = None
    status: str = Field(max_length=32)
    # The workflow the case was opened under (libs/common/casestore/lifecycle.py).
    workflow: str = Field(
        default="triage",
        sa_column=Column(String(32), nullable=False, server_default=text("'triage'")),
    )
    severity: str = Field(max_length=16)
    group_key: str | None = Field(default=None, max_length=2_048)
    host: str | None = Field(default=None, max_length=1_024)
    rule_id: str | None = Field(default=None, max_length=256)
    alert_count: int = 0
    assignee: str | None = Field(default=None, max_length=256)
    # Case-preserving, deduplicated case-insensitively by the case store.
    tags: list[str] = Field(default_factory=list, sa_column=tags_column())
    first_event_at: datetime | None = Field(default=None, sa_column=tz_column(nullable=True))
    last_event_at: datetime | None = Field(default=None, sa_column=tz_column(nullable=True))
    created_at: datetime = Field(sa_column=tz_column(server_now=True))
    updated_at: datetime = Field(sa_column=tz_column(server_now=True))
    acknowledged_at: datetime | None = Field(default=None, sa_column=tz_column(nullable=True))
    resolved_at: datetime | None = Field(default=None, sa_column=tz_column(nullable=True))
    closed_at: datetime | None = Field(default=None, sa_column=tz_column(nullable=True))
    # Set on a case opened because the previous case of its group key was full. Not a
    # foreign key: the continuation outlives the full case when retention purges that one
    # (the id then names a tombstone in case_purges), and history should not be rewritten.
    continues_case_id: uuid.UUID | None = None
    in_progress_at: datetime | None = Field(default=None, sa_column=tz_column(nullable=True))
    # 1 (most urgent) to 4; null until someone sets it. Limits live in casestore.fields.
    priority: int | None = None
    confidence: float | None = Field(default=None, sa_column=Column(Float, nullable=True))
    classification: str = Field(
        default="pending",
        sa_column=Column(String(32), nullable=False, server_default=text("'pending'")),
    )
    escalation_group: str | None = Field(default=None, max_length=256)
    investigation_summary: str | None = Field(default=None, max_length=8_192)
    conclusion: str | None = Field(default=None, max_length=8_192)
    requires_human_approval: bool = Field(
        default=False,
        sa_column=Column(Boolean, nullable=False, server_default=text("false")),
    )
    # SLA due times from the tenant's targets for the case's severity, counted from
    # created_at; recomputed when the severity changes. Null for cases opened before SLAs.
    ack_due_at: datetime | None = Field(default=None, sa_column=tz_column(nullable=True))
    resolve_due_at: datetime | None = Field(default=None, sa_column=tz_column(nullable=True))
    # SLA notices recorded ("ack.pre_breach", "resolve.breached", ...): each at most once.
    sla_notices: list[str] = Field(
        default_factory=list,
        sa_column=Column(ARRAY(String(32)), nullable=False, server_default=text("'{}'")),
    )
    # Soft delete by the tenant's admin: the case and its audit trail stay, but no API
    # read shows it and no alert joins it, until it is restored.
    deleted_at: datetime | None = Field(default=None, sa_column=tz_column(nullable=True))
    deleted_by: str | None = Field(default=None, max_length=256)
    # Set while the case is merged into another (status `merged`); cleared by an unmerge.
    merged_into: uuid.UUID | None = Field(default=None, foreign_key="cases.id")
    # The tenant's custom fields (key -> value), checked against its definitions on every
    # write by the case store (libs/common/casestore/custom_fields.py).
    custom_fields: dict[str, Any] = Field(
        default_factory=dict,
        sa_column=Column(JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    )
    # Legal hold, set and released by the tenant's admin: a held case cannot be deleted or
    # purged (a trigger refuses deleting its row or its audit events, migration 0018).
    legal_hold_since: datetime | None = Field(default=None, sa_column=tz_column(nullable=True))
    legal_hold_by: str | None = Field(default=None, max_length=256)
    legal_hold_reason: str | None = Field(default=None, max_length=4_096)


# Columns Postgres derives from the case row for the list's filters and sorts. They are on
# the table (so migrations and models agree) but not mapped: no write sets them and no
# read of a Case loads them.
CASE_SEVERITY_RANK = (
    "CASE severity " + " ".join(f"WHEN '{s.value}' THEN {s.rank}" for s in Severity) + " END"
)
Case.__table__.append_column(  # type: ignore[attr-defined]
    Column("severity_rank", SmallInteger, Computed(CASE_SEVERITY_RANK, persisted=True))
)
# Lower-cased tags for case-insensitive tag filters; the function is in migration 0011.
Case.__table__.append_column(  # type: ignore[attr-defined]
    Column("tags_folded", ARRAY(Text), Computed("casestream_fold_tags(tags)", persisted=True))
)
# Full-text search over what people write on a case (notes have their own, below). The
# 'english' configuration stems ("phished" finds "phishing") and keeps host names, IPs
# and hashes as whole tokens; the title weighs most should a ranked search come later.
CASE_SEARCH_VECTOR = (
    "setweight(to_tsvector('english', coalesce(title, '')), 'A') || "
    "setweight(to_tsvector('english', coalesce(description, '')), 'B') || "
    "setweight(to_tsvector('english', coalesce(investigation_summary, '') || ' ' || "
    "coalesce(conclusion, '')), 'C')"
)
Case.__table__.append_column(  # type: ignore[attr-defined]
    Column("search_vector", TSVECTOR, Computed(CASE_SEARCH_VECTOR, persisted=True))
)
_cases = Case.__table__  # type: ignore[attr-defined]
Index(
    "ix_cases_tenant_severity",
    _cases.c.tenant_id,
    _cases.c.severity_rank,
    _cases.c.created_at,
    _cases.c.id,
)
Index("ix_cases_tags_folded", _cases.c.tags_folded, postgresql_using="gin")
Index("ix_cases_search_vector", _cases.c.search_vector, postgresql_using="gin")
# cf.<key>=<value> list filters are `custom_fields @> {...}` containment lookups.
Index(
    "ix_cases_custom_fields",
    _cases.c.custom_fields,
    postgresql_using="gin",
    postgresql_ops={"custom_fields": "jsonb_path_ops"},
)


class CaseEntity(SQLModel, table=True):
    """Which entity values (lower-cased) a case's alerts carry: the detection's entities
    and its host. Written by the case store in the transaction that stores the alerts, so
    'cases seen with this IP' is one index lookup instead of a scan of detection payloads."""

    __tablename__ = "case_entities"
    # A case's rows, for the retention purger (the key leads with the value).
    __table_args__ = (Index("ix_case_entities_tenant_case", "tenant_id", "case_id"),)

    tenant_id: str = Field(primary_key=True, max_length=64)
    # Truncated to MAX_ENTITY_VALUE characters: the key must fit a btree entry.
    value: str = Field(primary_key=True, max_length=512)
    entity_type: str = Field(primary_key=True, max_length=32)
    case_id: uuid.UUID = Field(primary_key=True, foreign_key="cases.id")


MAX_ENTITY_VALUE = 512


class CaseNumberCounter(SQLModel, table=True):
    __tablename__ = "case_number_counters"

    tenant_id: str = Field(primary_key=True, max_length=64)
    last_number: int = 0


class CaseEvent(SQLModel, table=True):
    """The audit timeline: append-only (a trigger rejects UPDATE and DELETE)."""

    __tablename__ = "case_events"
    __table_args__ = (Index("ix_case_events_tenant_case_seq", "tenant_id", "case_id", "seq"),)

    seq: int | None = Field(
        default=None, sa_column=Column(BigInteger, Identity(always=True), primary_key=True)
    )
    event_id: uuid.UUID = Field(unique=True)
    tenant_id: str = Field(sa_column=tenant_column())
    case_id: uuid.UUID = Field(foreign_key="cases.id")
    type: str = Field(max_length=64)
    actor: str = Field(max_length=256)
    occurred_at: datetime = Field(sa_column=tz_column())
    payload: dict[str, Any] = Field(sa_column=json_column())
    # Hash chain per case: sha256 over the previous event's hash and this event's content.
    prev_hash: str | None = Field(default=None, max_length=64)
    hash: str = Field(max_length=64)
