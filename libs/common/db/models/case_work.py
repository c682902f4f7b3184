"""What analysts and their tools do to cases: notes, tasks, attachments, merges and bulk
jobs. The cases themselves, their entities and their audit trail are in `cases`."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Computed,
    Index,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlmodel import Field, SQLModel

from libs.common.db.columns import (
    json_column,
    tenant_column,
    tz_column,
)


class CaseNote(SQLModel, table=True):
    __tablename__ = "case_notes"
    __table_args__ = (
        UniqueConstraint("tenant_id", "idempotency_key"),
        Index("ix_case_notes_tenant_case", "tenant_id", "case_id"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    tenant_id: str = Field(sa_column=tenant_column())
    case_id: uuid.UUID = Field(foreign_key="cases.id")
    author: str = Field(max_length=256)
    body: str = Field(max_length=65_536)
    idempotency_key: str | None = Field(default=None, max_length=256)
    created_at: datetime = Field(sa_column=tz_column(server_now=True))


_notes = CaseNote.__table__  # type: ignore[attr-defined]
_notes.append_column(
    Column("search_vector", TSVECTOR, Computed("to_tsvector('english', body)", persisted=True))
)
Index("ix_case_notes_search_vector", _notes.c.search_vector, postgresql_using="gin")


class CaseTask(SQLModel, table=True):
    """A to-do on a case. Written only by the case store, under the case's row lock, which
    keeps each case's positions dense (0, 1, 2, ...) and its task count within the limit."""

    __tablename__ = "case_tasks"
    __table_args__ = (
        Index("ix_case_tasks_tenant_case_position", "tenant_id", "case_id", "position"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    tenant_id: str = Field(sa_column=tenant_column())
    case_id: uuid.UUID = Field(foreign_key="cases.id")
    title: str = Field(max_length=256)
    description: str | None = Field(default=None, max_length=8_192)  # Markdown
    status: str = Field(max_length=16)
    assignee: str | None = Field(default=None, max_length=256)
    due_at: datetime | None = Field(default=None, sa_column=tz_column(nullable=True))
    position: int
    created_by: str = Field(max_length=256)
    created_at: datetime = Field(sa_column=tz_column(server_now=True))
    updated_at: datetime = Field(sa_column=tz_column(server_now=True))
    # When it became done or cancelled; cleared when it is reopened.
    completed_at: datetime | None = Field(default=None, sa_column=tz_column(nullable=True))


class CaseAttachment(SQLModel, table=True):
    """A file attached to a case. Its bytes are in the object store under `object_key`
    (tenant/case/attachment id, never the uploaded name; the case it was uploaded to,
    which a merge does not change); a removal only stamps the row, and the object stays
    until the case is purged (docs/attachments.md)."""

    __tablename__ = "case_attachments"
    __table_args__ = (
        Index("ix_case_attachments_tenant_case", "tenant_id", "case_id", "created_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    tenant_id: str = Field(sa_column=tenant_column())
    case_id: uuid.UUID = Field(foreign_key="cases.id")
    filename: str = Field(max_length=255)
    content_type: str = Field(max_length=255)
    size_bytes: int = Field(sa_column=Column(BigInteger, nullable=False))
    sha256: str = Field(max_length=64)
    object_key: str = Field(max_length=1_024, unique=True)
    uploaded_by: str = Field(max_length=256)
    created_at: datetime = Field(sa_column=tz_column(server_now=True))
    deleted_at: datetime | None = Field(default=None, sa_column=tz_column(nullable=True))
    deleted_by: str | None = Field(default=None, max_length=256)


class CaseMerge(SQLModel, table=True):
    """One source case merged into a target, with what moved, so it can be undone. A row
    is never deleted: an unmerge stamps it, and a later merge of the same case adds one."""

    __tablename__ = "case_merges"
    __table_args__ = (
        # At most one merge of a case in force at a time.
        Index(
            "uq_case_merges_tenant_source_active",
            "tenant_id",
            "source_case_id",
            unique=True,
            postgresql_where=text("unmerged_at IS NULL"),
        ),
        Index("ix_case_merges_tenant_target", "tenant_id", "target_case_id"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    tenant_id: str = Field(sa_column=tenant_column())
    source_case_id: uuid.UUID = Field(foreign_key="cases.id")
    target_case_id: uuid.UUID = Field(foreign_key="cases.id")
    # The source as it was (status and done times), the alert, note and task ids moved
    # (tasks in their order on the source), and the grouping slots re-pointed (with their
    # windows): everything an unmerge restores.
    moved: dict[str, Any] = Field(sa_column=json_column())
    merged_by: str = Field(max_length=256)
    merged_at: datetime = Field(sa_column=tz_column(server_now=True))
    unmerged_by: str | None = Field(default=None, max_length=256)
    unmerged_at: datetime | None = Field(default=None, sa_column=tz_column(nullable=True))


class CaseBulkJob(SQLModel, table=True):
    """A bulk change of up to 200 cases, run item by item by the cases service. `request`
    is the change as asked (selection, change, dry run); progress is in its items."""

    __tablename__ = "case_bulk_jobs"
    __table_args__ = (
        Index("ix_case_bulk_jobs_tenant_created", "tenant_id", "created_at"),
        Index(
            "ix_case_bulk_jobs_unfinished",
            "created_at",
            postgresql_where=text("finished_at IS NULL"),
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    tenant_id: str = Field(sa_column=tenant_column())
    created_by: str = Field(max_length=256)
    dry_run: bool = Field(sa_column=Column(Boolean, nullable=False))
    status: str = Field(max_length=16)  # queued, running, done
    request: dict[str, Any] = Field(sa_column=json_column())
    total: int
    created_at: datetime = Field(sa_column=tz_column(server_now=True))
    started_at: datetime | None = Field(default=None, sa_column=tz_column(nullable=True))
    finished_at: datetime | None = Field(default=None, sa_column=tz_column(nullable=True))


class CaseBulkJobItem(SQLModel, table=True):
    """One case of a bulk job and what happened to it: pending, changed, unchanged or
    failed (with the error's code, HTTP status and message)."""

    __tablename__ = "case_bulk_job_items"

    job_id: uuid.UUID = Field(primary_key=True, foreign_key="case_bulk_jobs.id")
    position: int = Field(primary_key=True)
    tenant_id: str = Field(sa_column=tenant_column())
    # Not a foreign key: an id the caller sent may name no case of theirs (failed, 404).
    case_id: uuid.UUID
    outcome: str = Field(max_length=16)
    changed: list[str] | None = Field(default=None, sa_column=json_column(nullable=True))
    error: dict[str, Any] | None = Field(default=None, sa_column=json_column(nullable=True))
    finished_at: datetime | None = Field(default=None, sa_column=tz_column(nullable=True))
