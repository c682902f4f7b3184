"""Environment-driven settings shared by every service.

All variables use the `CASESTREAM__` prefix with `__` between nesting levels, e.g.
`CASESTREAM__DATABASE__URL` or `CASESTREAM__INGEST__PORT`. Nothing here connects to
anything: building a settings object only reads the environment.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "CASESTREAM__"


class DatabaseSettings(BaseModel):
    url: SecretStr = SecretStr("postgresql+asyncpg://postgres@127.0.0.1:5432/casestream")
    pool_size: int = Field(default=10, ge=1, le=200)
    echo: bool = False


class KafkaSettings(BaseModel):
    bootstrap_servers: str = "127.0.0.1:9092"
    client_id: str = "casestream"
    # Tansu has no idempotent producer; acks=all is the strongest setting it supports.
    acks: str = "all"
    # Also bounds a consumer's JoinGroup request, which Tansu answers only after about
    # 6 s: below that a consumer never joins its group (it times out and retries).
    request_timeout_ms: int = Field(default=10_000, ge=7_000)
    topic_partitions: int = Field(default=6, ge=1, le=256)
    # Detections are a few KB each: aiokafka's 16 KB default batch would hold four of them
    # and turn every HTTP batch into hundreds of produce requests.
    producer_max_batch_bytes: int = Field(default=1_048_576, ge=16_384)
    producer_linger_ms: int = Field(default=2, ge=0, le=1_000)
    # How long the broker may hold a fetch that finds no new record (aiokafka's default
    # is 500 ms). Tansu answers a held fetch of several partitions only when this runs
    # out, not when a record arrives: at 300 records/s over three partitions a plain
    # consumer saw p50/p99 of 131/254 ms with 500 and 16/30 ms with 50. An idle consumer
    # sends 1000/this fetches a second. Every consumer of the services uses it.
    consumer_fetch_max_wait_ms: int = Field(default=50, ge=1, le=10_000)


class RedisSettings(BaseModel):
    url: SecretStr = SecretStr("redis://127.0.0.1:6379/0")


class LogSettings(BaseModel):
    level: str = "INFO"
    # None: JSON when stderr is not a terminal, console rendering when it is.
    json_output: bool | None = None


class OutboxSettings(BaseModel):
    enabled: bool = True
    poll_interval_ms: int = Field(default=50, ge=5, le=60_000)
    # Messages per relay round (a batch row of the alert topics is never split, so a
    # round may exceed this by one row's messages). A round costs five round trips to
    # PostgreSQL and one produce request whatever its size; at 500 a round took one
    # batch row, and an alerting batch of 1,000 detections (2,000 alert messages) four.
    batch_size: int = Field(default=2_000, ge=1, le=5_000)
    # 0: a row is deleted by the transaction that publishes it (the audit timeline keeps
    # case events; Kafka keeps the messages). Above 0: sent rows are kept that long for
    # inspection, then deleted, checked every prune_interval_seconds by every relay.
    keep_sent_seconds: int = Field(default=0, ge=0)
    prune_interval_seconds: float = Field(default=60.0, ge=0.1)


class ObjectStoreSettings(BaseModel):
    """An S3-compatible store (SeaweedFS in development, any S3 in production) holding
    case attachments. Empty credentials fall back to botocore's usual chain (AWS_*
    variables, an instance role)."""

    endpoint_url: str | None = "http://127.0.0.1:18333"
    region: str = "us-east-1"
    bucket: str = Field(default="casestream-attachments", min_length=3, max_length=63)
    access_key_id: SecretStr = SecretStr("")
    secret_access_key: SecretStr = SecretStr("")
    # Create the bucket at start if it is missing (compose's fresh store); off where an
    # operator provisions buckets and the credentials may not create one.
    create_bucket: bool = False
    connect_timeout_seconds: float = Field(default=3.0, gt=0, le=60)
    read_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    # Attempts per request, the first included: connection failures retry quickly.
    max_attempts: int = Field(default=3, ge=1, le=10)
    # Uploads above one part go up as S3 multipart uploads of this size, so at most one
    # part per upload is held in memory. S3's minimum part size is 5 MiB.
    part_size_bytes: int = Field(default=8 * 1024 * 1024, ge=5 * 1024 * 1024, le=512 * 1024**2)


class AlertStoreKind(StrEnum):
    POSTGRES = "postgres"
    OPENSEARCH = "opensearch"


class OpenSearchSettings(BaseModel):
    hosts: list[str] = Field(default_factory=lambda: ["http://127.0.0.1:9200"], min_length=1)
    username: str | None = None
    password: SecretStr | None = None
    verify_certs: bool = True
    ca_certs: str | None = None
    # Indices are <index_prefix>-alerts-YYYY.MM.DD; lower case, as OpenSearch requires.
    index_prefix: str = Field(default="casestream", pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    number_of_shards: int = Field(default=1, ge=1, le=64)
    number_of_replicas: int = Field(default=1, ge=0, le=8)
    request_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    bulk_chunk_size: int = Field(default=500, ge=1, le=10_000)
    # Items refused with 429 or 5xx (or a failed request) are sent again, with backoff.
    bulk_max_attempts: int = Field(default=5, ge=1, le=20)
    bulk_initial_backoff_seconds: float = Field(default=0.5, ge=0, le=60)


class AlertStoreSettings(BaseModel):
    """Where alerts are searched: Postgres (the default, and always the system of record)
    or OpenSearch, fed by alerting's alert indexer (docs/alert-store.md). Set the same
    kind on every service."""

    kind: AlertStoreKind = AlertStoreKind.POSTGRES
    opensearch: OpenSearchSettings = OpenSearchSettings()


class ApiCredential(BaseModel):
    """One API key, scoped to a tenant. `name` is the principal recorded in audit events."""

    key: SecretStr
    tenant: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=128)


class TenantScopedSection(BaseModel):
    """A consumer whose configuration (webhook URLs, a service credential) belongs to some
    tenants only. Empty means every tenant: right for a single-tenant install only."""

    tenants: list[str] = Field(default_factory=list)

    def covers(self, tenant_id: str) -> bool:
        return not self.tenants or tenant_id in self.tenants


class HttpServerSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65_535)
    api_keys: list[ApiCredential] = Field(default_factory=list)
    # FastAPI's native OpenTelemetry (spans, metrics, logs through the global providers).
    # Off unless asked: even with no provider configured, FastAPI looks for one on every
    # request (~3 % of a case create's CPU).
    opentelemetry: bool = False


class AlertTopicsSettings(BaseModel):
    """Which alert topics every writer of alerts publishes (docs/alert-topics.md)."""

    # alerts.v1 is deprecated: turn it off (step 3 of its retirement) once no consumer
    # group reads it. Every cased alert then costs one outbox row instead of two.
    publish_v1: bool = True


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="ignore",
    )

    environment: str = "development"
    database: DatabaseSettings = DatabaseSettings()
    kafka: KafkaSettings = KafkaSettings()
    redis: RedisSettings = RedisSettings()
    log: LogSettings = LogSettings()
    outbox: OutboxSettings = OutboxSettings()
    object_store: ObjectStoreSettings = ObjectStoreSettings()
    alert_store: AlertStoreSettings = AlertStoreSettings()
    alert_topics: AlertTopicsSettings = AlertTopicsSettings()
