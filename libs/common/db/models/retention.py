"""Retention: the tombstone each purged case leaves behind, and the objects of its
attachments still to delete from the bucket."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index, Integer, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from libs.common.db.columns import json_column, tenant_column, tz_column


class CasePurge(SQLModel, table=True):
    """A case the retention purger deleted for good, with the policy that allowed it and
    how many rows of each table went with it. Ids, numbers and times only: no case content
    survives the purge. Also the licence the audit trigger asks for before it lets the
    purger delete the case's events (migration 0018)."""

    __tablename__ = "case_purges"
    __table_args__ = (
        UniqueConstraint("tenant_id", "case_id"),
        Index("ix_case_purges_tenant_purged", "tenant_id", "purged_at", "id"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    tenant_id: str = Field(sa_column=tenant_column())
    # Not a foreign key: the case is gone.
    case_id: uuid.UUID
    case_number: int
    # What made it due: "closed" or "deleted" (its own time below), or "merged" when it
    # went with the case it was merged into (`purged_with`).
    basis: str = Field(max_length=16)
    closed_at: datetime | None = Field(default=None, sa_column=tz_column(nullable=True))
    deleted_at: datetime | None = Field(default=None, sa_column=tz_column(nullable=True))
    purged_with: uuid.UUID | None = None
    retention_days: int
    policy_version: int
    purged_by: str = Field(max_length=256)
    purged_at: datetime = Field(sa_column=tz_column(server_now=True))
    # Rows removed per table, e.g. {"alerts": 12, "case_events": 30, ...}.
    removed: dict[str, Any] = Field(sa_column=json_column())


class PurgedAttachmentObject(SQLModel, table=True):
    """The object of an attachment whose row a purge removed, until it is deleted from the
    bucket. Written in the purge's transaction and removed once the object is gone, so
    neither a store that is down nor a crash after the purge loses track of an object
    (services/cases/retention_purger.py). Ids only, like the tombstone."""

    __tablename__ = "purged_attachment_objects"
    __table_args__ = (
        # The tenant's next objects to try: fewest failed attempts first, then oldest.
        Index(
            "ix_purged_attachment_objects_tenant_attempts", "tenant_id", "attempts", "recorded_at"
        ),
    )

    object_key: str = Field(max_length=1_024, primary_key=True)
    tenant_id: str = Field(sa_column=tenant_column())
    # The purged case the attachment was on. Not a foreign key: the case is gone.
    case_id: uuid.UUID
    recorded_at: datetime = Field(sa_column=tz_column(server_now=True))
    # Failed deletes so far, and when the last one was tried.
    attempts: int = Field(
        default=0, sa_column=Column(Integer, nullable=False, server_default=text("0"))
    )
    last_attempt_at: datetime | None = Field(default=None, sa_column=tz_column(nullable=True))
