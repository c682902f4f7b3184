"""API shapes of case attachments."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class AttachmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    case_id: uuid.UUID
    filename: str = Field(description="the uploaded name, sanitised: never a path")
    content_type: str = Field(description="as the upload declared it (octet-stream if not)")
    size_bytes: int
    sha256: str = Field(description="hex digest of the content, computed while storing it")
    uploaded_by: str
    created_at: datetime


class AttachmentList(BaseModel):
    items: list[AttachmentOut] = Field(description="oldest first; removed ones left out")


class ExportedAttachment(AttachmentOut):
    archive_name: str = Field(
        description="where the zip export (?format=zip) holds the content: "
        "attachments/<id>-<filename>"
    )
