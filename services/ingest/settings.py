from __future__ import annotations

from pydantic import Field

from libs.common.settings import CommonSettings, HttpServerSettings


class IngestSection(HttpServerSettings):
    port: int = Field(default=8001, ge=0, le=65_535)
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1_024)
    max_batch_items: int = Field(default=5_000, ge=1)
    # Consume detections.raw.v1 in this process (off: an HTTP-only ingest instance).
    consume_raw_topic: bool = True
    raw_consumer_group: str = "ingest-raw"


class IngestSettings(CommonSettings):
    ingest: IngestSection = IngestSection()
