from __future__ import annotations

from pydantic import Field

from libs.common.settings import ApiCredential, CommonSettings, HttpServerSettings


class IngestSection(HttpServerSettings):
    port: int = Field(default=8001, ge=0, le=65_535)
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1_024)
    max_batch_items: int = Field(default=5_000, ge=1)
    # Tenant admins who may issue and revoke source keys through /api/v1/admin/api-keys.
    admin_api_keys: list[ApiCredential] = Field(default_factory=list)
    # How long a resolved issued key is trusted before it is looked up again (revocation lag).
    issued_key_cache_seconds: float = Field(default=10.0, ge=0, le=300)
    # Consume detections.raw.v1 in this process (off: an HTTP-only ingest instance).
    consume_raw_topic: bool = True
    raw_consumer_group: str = "ingest-raw"


class IngestSettings(CommonSettings):
    ingest: IngestSection = IngestSection()
