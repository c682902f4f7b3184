"""API shapes of moving alerts between cases: merge, unmerge and split."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field, field_validator

from libs.common.casestore.merging import MAX_MERGE_SOURCES
from services.cases.schemas import CaseSummary


class MergeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source_ids: list[uuid.UUID] = Field(
        min_length=1, description=f"the cases to merge into this one, at most {MAX_MERGE_SOURCES}"
    )

    @field_validator("source_ids")
    @classmethod
    def _within_limit(cls, ids: list[uuid.UUID]) -> list[uuid.UUID]:
        if len(ids) > MAX_MERGE_SOURCES:
            raise ValueError(f"at most {MAX_MERGE_SOURCES} cases per merge, {len(ids)} given")
        return ids


class MergeOut(BaseModel):
    target: CaseSummary
    sources: list[CaseSummary]
    moved_alert_ids: list[uuid.UUID]
    moved_note_ids: list[uuid.UUID]
    moved_group_keys: list[str] = Field(description="grouping slots now pointing at the target")


class UnmergeOut(BaseModel):
    case: CaseSummary
    target: CaseSummary = Field(description="the case it had been merged into")
    restored_alert_ids: list[uuid.UUID]
    restored_note_ids: list[uuid.UUID]
    restored_group_keys: list[str]
