"""API shapes of moving alerts between cases: merge, unmerge and split."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field, field_validator

from libs.common.casestore.merging import MAX_MERGE_SOURCES
from libs.common.casestore.splitting import MAX_SPLIT_ALERTS
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
    moved_task_ids: list[uuid.UUID] = Field(description="now after the target's own tasks")
    moved_attachment_ids: list[uuid.UUID] = Field(
        description="the sources' attachments (not removed ones), now listed, downloaded and "
        "exported with the target"
    )
    moved_group_keys: list[str] = Field(description="grouping slots now pointing at the target")


class UnmergeOut(BaseModel):
    case: CaseSummary
    target: CaseSummary = Field(description="the case it had been merged into")
    restored_alert_ids: list[uuid.UUID]
    restored_note_ids: list[uuid.UUID]
    restored_task_ids: list[uuid.UUID] = Field(
        description="the tasks it gave the target that were not deleted since"
    )
    restored_attachment_ids: list[uuid.UUID] = Field(
        description="the attachments it gave the target that were not removed since"
    )
    restored_group_keys: list[str]


class SplitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    alert_ids: list[uuid.UUID] = Field(
        min_length=1, description=f"alerts of this case to move out, at most {MAX_SPLIT_ALERTS}"
    )
    title: str | None = Field(
        default=None,
        min_length=1,
        max_length=1_024,
        description="the new case's title; derived from the alerts when left out",
    )

    @field_validator("alert_ids")
    @classmethod
    def _within_limit(cls, ids: list[uuid.UUID]) -> list[uuid.UUID]:
        if len(ids) > MAX_SPLIT_ALERTS:
            raise ValueError(f"at most {MAX_SPLIT_ALERTS} alerts per split, {len(ids)} given")
        return ids


class SplitOut(BaseModel):
    case: CaseSummary = Field(description="the new case holding the moved alerts")
    source: CaseSummary
    moved_alert_ids: list[uuid.UUID]
