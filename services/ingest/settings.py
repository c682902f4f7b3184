from __future__ import annotations

from limits import parse
from pydantic import Field, field_validator

from libs.common.settings import ApiCredential, CommonSettings, HttpServerSettings
from services.ingest.entity_rules import EntityRuleConfig
from services.ingest.signed_sources import SignedSource


class IngestSection(HttpServerSettings):
    port: int = Field(default=8001, ge=0, le=65_535)
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1_024)
    max_batch_items: int = Field(default=5_000, ge=1)
    # One normalized detection, raw payload included, as published: below the broker's
    # default 1 MiB message size, with room for headers and the record batch.
    max_detection_bytes: int = Field(default=900_000, ge=4_096, le=1_000_000)
    # Sources that sign deliveries to /api/v1/webhooks/{name} instead of sending a key.
    signed_sources: list[SignedSource] = Field(default_factory=list)
    # Tenant admins who may issue and revoke source keys through /api/v1/admin/api-keys.
    admin_api_keys: list[ApiCredential] = Field(default_factory=list)
    # How long a resolved issued key is trusted before it is looked up again (revocation lag).
    issued_key_cache_seconds: float = Field(default=10.0, ge=0, le=300)
    # Extra entities per source or format, by JSONPath over the original document.
    entity_rules: EntityRuleConfig = Field(default_factory=dict)
    # Consume detections.raw.v1 in this process (off: an HTTP-only ingest instance).
    consume_raw_topic: bool = True
    raw_consumer_group: str = "ingest-raw"
    # A detection id accepted again within this many seconds is answered `duplicate`
    # (still published and counted downstream); 0 turns the check off.
    duplicate_window_seconds: int = Field(default=24 * 3600, ge=0, le=30 * 24 * 3600)
    # Counted in detections, in the `limits` notation ("N/second|minute|hour").
    rate_limit_per_key: str = "60000/minute"
    rate_limit_per_tenant: str = "120000/minute"

    @field_validator("rate_limit_per_key", "rate_limit_per_tenant")
    @classmethod
    def _parses(cls, value: str) -> str:
        parse(value)  # raises ValueError naming the bad notation at start-up
        return value


class IngestSettings(CommonSettings):
    ingest: IngestSection = IngestSection()
