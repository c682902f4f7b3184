from __future__ import annotations

from pydantic import BaseModel, Field

from libs.common.settings import CommonSettings
from services.alerting.correlation.settings import CorrelationSettings


class AlertIndexerSection(BaseModel):
    """The consumer that feeds the OpenSearch alert store (only with that store)."""

    consumer_group: str = "alert-indexer"
    batch_max_records: int = Field(default=500, ge=1, le=10_000)
    batch_timeout_ms: int = Field(default=200, ge=1)
    retry_pause_seconds: float = Field(default=2.0, ge=0, le=300)


class AlertingSection(BaseModel):
    consumer_group: str = "alerting"
    # Consumer processes of this instance, each a member of the group with its share of
    # the partitions (services/alerting/processes.py). Up to one per core: a process
    # decides one batch at a time on one Python thread. On the 2-core benchmark machine,
    # shared with PostgreSQL and the broker, 2 drained a backlog 14-27 % faster than 1
    # (docs/benchmarks.md, session 15), at the same CPU per detection and twice the memory.
    processes: int = Field(default=1, ge=1, le=64)
    # Under load, fewer and larger transactions: 1,000 drained the benchmark's backlog
    # 9-44 % faster than 500 (docs/benchmarks.md); a quiet stream still goes out in
    # batch_timeout_ms with whatever has arrived.
    batch_max_records: int = Field(default=1_000, ge=1, le=10_000)
    batch_timeout_ms: int = Field(default=100, ge=1)
    # Bytes fetched per partition and request (aiokafka's default is 1 MiB, ~180 of the
    # benchmark's 5.6 KB detections): 8 MiB keeps a full batch buffered while the last
    # one is processed, where 1 MiB left batches of 230-580 and 200-300 ms waits for
    # records within a drain. Buffered per assigned partition, so memory grows with both.
    fetch_partition_bytes: int = Field(default=8 * 1024 * 1024, ge=64 * 1024, le=256 * 1024 * 1024)
    # Relay the outbox from this process too. Off where a relay process runs
    # (`python -m services.relay`: the embedded stack, compose), so this core decides
    # cases while another publishes them; under load relaying was an eighth of this
    # process' CPU.
    run_outbox_relay: bool = True
    # Correlation rules per tenant (docs/correlation.md); none configured: no correlation.
    correlation: CorrelationSettings = CorrelationSettings()
    alert_indexer: AlertIndexerSection = AlertIndexerSection()


class AlertingSettings(CommonSettings):
    alerting: AlertingSection = AlertingSection()
