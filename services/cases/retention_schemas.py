"""API shapes of legal hold and of the retention purger's tombstones."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class LegalHoldIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(
        min_length=1, max_length=4_096, description="why the case must be kept, e.g. a matter"
    )


class CasePurgeOut(BaseModel):
    """A case the retention purger deleted for good: ids, times and counts only."""

    model_config = ConfigDict(from_attributes=True)

    case_id: uuid.UUID
    case_number: int
    basis: Literal["closed", "deleted", "merged"] = Field(
        description="closed or deleted long enough ago, or merged into a case that was"
    )
    closed_at: datetime | None
    deleted_at: datetime | None
    purged_with: uuid.UUID | None = Field(
        description="for basis merged: the case whose purge took this one along"
    )
    retention_days: int
    policy_version: int = Field(description="the case policy version in force at the purge")
    purged_by: str
    purged_at: datetime
    removed: dict[str, int] = Field(description="rows removed per table")


class CasePurgePage(BaseModel):
    items: list[CasePurgeOut] = Field(description="newest first")
