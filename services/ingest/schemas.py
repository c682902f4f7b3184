"""API shapes of ingest: the native Casestream detection and the per-item response."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import msgspec
from pydantic import BaseModel, ConfigDict, Field

SHORT = 1_024


class NativeRule(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str = Field(min_length=1, max_length=256)
    title: str = Field(min_length=1, max_length=SHORT)
    level: str | None = Field(default=None, max_length=32)
    description: str | None = Field(default=None, max_length=65_536)
    tags: list[str] = Field(default_factory=list, max_length=256)


class NativeMitre(BaseModel):
    techniques: list[str] = Field(default_factory=list, max_length=256)
    tactics: list[str] = Field(default_factory=list, max_length=256)


class NativeHost(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str = Field(min_length=1, max_length=SHORT)


class NativeObservable(BaseModel):
    model_config = ConfigDict(extra="allow")

    dataType: str = Field(max_length=64)
    data: str = Field(min_length=1, max_length=2_048)
    tags: list[str] = Field(default_factory=list)


class NativeDetection(BaseModel):
    """The shape of ../shared/data/detections lines: a Sigma rule that fired on an event."""

    model_config = ConfigDict(extra="allow")

    detection_id: str | None = Field(default=None, min_length=1, max_length=256)
    timestamp: datetime | None = None
    source: str = Field(default="native", min_length=1, max_length=128)
    rule: NativeRule
    mitre: NativeMitre = Field(default_factory=NativeMitre)
    host: NativeHost | None = None
    user: dict[str, Any] | None = None
    process: dict[str, Any] | None = None
    network: dict[str, Any] | None = None
    file: dict[str, Any] | None = None
    registry: dict[str, Any] | None = None
    observables: list[NativeObservable] = Field(default_factory=list, max_length=1_000)
    # The source events the rule matched, when the sender knows their ids; else they are
    # read from `raw` (see services.ingest.normalize.matched_event_refs).
    matched_event_ids: list[str] = Field(default_factory=list, max_length=64)


class ItemStatus(StrEnum):
    ACCEPTED = "accepted"
    # Accepted too, but its detection id was already accepted within the dedup window:
    # counted downstream as a repeat (occurrence count, last seen), never a second alert.
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


class ItemResult(BaseModel):
    index: int
    detection_id: str | None = None
    status: ItemStatus
    reason: str | None = None


class IngestResponse(BaseModel):
    accepted: int
    duplicates: int = 0
    rejected: int
    items: list[ItemResult]


class ItemOutcome(msgspec.Struct):
    """`ItemResult` as the service builds it: a thousand pydantic models per request
    cost more than the rest of the response."""

    index: int
    detection_id: str | None
    status: ItemStatus
    reason: str | None = None


class IngestOutcome(msgspec.Struct):
    """`IngestResponse`, written once with msgspec (same JSON; a test holds them equal)."""

    accepted: int
    duplicates: int
    rejected: int
    items: list[ItemOutcome]

    def to_json(self) -> bytes:
        return msgspec.json.encode(self)

    def to_details(self) -> dict[str, Any]:
        details: dict[str, Any] = msgspec.to_builtins(self)
        return details
