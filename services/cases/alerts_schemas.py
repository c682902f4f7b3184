"""API shapes of the alert search (GET /api/v1/alerts)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from services.cases.schemas import AlertSummary


class AlertOut(AlertSummary):
    case_id: uuid.UUID | None = Field(
        description="null when the policy let the alert open no case and none was open"
    )
    group_key: str
    stored_at: datetime
    detection: dict[str, Any] | None = Field(
        default=None,
        description="the normalized detection as received (raw payload): only with payload=true",
    )


class AlertPageOut(BaseModel):
    items: list[AlertOut]
    next_cursor: str | None = Field(description="pass as cursor for the next page; null: last")


class AlertCountOut(BaseModel):
    count: int = Field(description="alerts matching the filters, over all pages")
