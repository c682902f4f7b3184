"""`make bench-alerting`: sustained detections/s through one alerting instance, and the
detection-to-case latency when it keeps up.

1. Backlog: the corpus is written to `detections.v1` first (as ingest would publish it),
   then one `python -m services.alerting` drains it (one process, or `--alerting-processes
   N` under one parent, as `alerting.processes` runs it): detections/s from its first stored
   alert to its last, in batches, through grouping into cases in Postgres. The outbox
   relay (`python -m services.relay`) publishes its alert and case messages beside it,
   as in the embedded stack; its CPU is reported on its own line.
2. Paced: detections produced at a fixed rate below that capacity; latency per
   detection from its publication (`ingested_at`) to its alert row (`stored_at`).
Both beside the raw broker rates measured in the same run, with CPU per detection of the
alerting process and of PostgreSQL, and the alerting process' peak RSS."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from bench.infrastructure import add_common_arguments, bench_infrastructure
from bench.kafka_baseline import measure_kafka
from bench.measure import (
    percentile,
    postgres_cpu_seconds,
    print_figures,
    read_process,
    read_process_tree,
)
from bench.pipeline import wait_for_alerts
from bench.replay import load_corpus
from libs.common.contracts.detections import DetectionV1
from libs.common.settings import KafkaSettings
from libs.embedded.pipeline import PipelineConfig, ServiceProcesses
from libs.embedded.postgres import asyncpg_dsn
from services.alerting.settings import AlertingSection
from services.ingest.normalize import normalize_native
from services.ingest.publisher import kafka_headers
from services.ingest.schemas import NativeDetection

# The partitions of detections.v1 as shipped (KafkaSettings.topic_partitions), so the
# figures are those of the default deployment; --partitions 3 is the count sessions 1 to
# 14 measured with.
PARTITIONS: int = KafkaSettings.model_fields["topic_partitions"].default
# The tenant is part of each detection's Kafka key (tenant and host), so it decides which
# partition each host's detections land on, and alerting works one batch per partition
# at a time: the largest partition's share bounds the drain. Over 201 random names
# (`python -m bench.partition_split`) the largest of 6 partitions held 24 to 70 % of the
# corpus (median 35.7 %), the largest of 3 held 35 to 78 % (median 48.2 %). This name's
# splits are the medians of both: 35.6 / 32.5 / 12.3 / 11.9 / 4.8 / 3.0 % and 47.8 /
# 37.3 / 14.9 %. Every run has a database of its own.
TENANT = "bench-alerting-8bad58"
GROUP = AlertingSection().consumer_group


def as_published(documents: list[dict[str, Any]], tenant: str) -> list[DetectionV1]:
    now = datetime.now(UTC)
    return [normalize_native(NativeDetection.model_validate(d), d, tenant, now) for d in documents]


def with_copies(detections: list[DetectionV1], copies: int) -> list[DetectionV1]:
    """The detections, then `copies - 1` more of them, each copy with its own detection ids
    and moved back in event time by more than the corpus spans: the same grouping work
    again on other days (new cases, no duplicates), for a drain long enough to be steady."""
    times = [d.effective_time for d in detections]
    shift = max(times) - min(times) + timedelta(days=1)
    moved = [
        d.model_copy(
            update={
                "detection_id": f"{d.detection_id}~{n}",
                "event_time": d.event_time - shift * n if d.event_time else None,
                "effective_time": d.effective_time - shift * n,
            }
        )
        for n in range(1, copies)
        for d in detections
    ]
    return detections + moved


@dataclass
class Produced:
    # Per record, its time from send to the broker's acknowledgement (s): what of a
    # detection's latency the broker took before alerting could see it.
    acks: list[float] = field(default_factory=list)
    # Per partition of detections.v1, the offset after the last record written.
    ends: dict[int, int] = field(default_factory=dict)


async def produce(bootstrap: str, detections: list[DetectionV1], rate: float = 0) -> Produced:
    """At `rate` detections/s (0: as fast as the broker takes them), each stamped with its
    publication time, so latency runs from the moment it is on the topic."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=2, max_batch_size=1_048_576
    )
    await producer.start()
    started = time.perf_counter()
    produced = Produced()

    def acknowledged(sent_at: float) -> Callable[[object], None]:
        return lambda _: produced.acks.append(time.perf_counter() - sent_at)

    try:
        futures = []
        for n, detection in enumerate(detections):
            if rate:
                await asyncio.sleep(max(0.0, started + n / rate - time.perf_counter()))
                detection.ingested_at = datetime.now(UTC)
            future = await producer.send(
                "detections.v1",
                detection.model_dump_json().encode(),
                key=detection.partition_key(),
                headers=kafka_headers(detection),
            )
            future.add_done_callback(acknowledged(time.perf_counter()))
            futures.append(future)
        for written in await asyncio.gather(*futures):
            ends = produced.ends
            ends[written.partition] = max(ends.get(written.partition, 0), written.offset + 1)
    finally:
        await producer.stop()
    return produced


async def wait_for_commits(
    bootstrap: str, group: str, ends: dict[int, int], within_seconds: float
) -> None:
    """Until alerting's group has committed every partition up to `ends`: it commits a
    batch's offsets after the batch's transaction, so everything is stored by then.
    Asking the broker, not PostgreSQL: counting a tenant's alerts every 0.2 s took
    2-10 ms of the server's CPU each time, 5 % of what the drain itself cost it."""
    # A client of the group that never joins it (it subscribes to nothing): it only asks
    # for the group's committed offsets, as alerting's own consumer does on start.
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await reader.start()
    try:
        deadline = time.monotonic() + within_seconds
        for partition, end in sorted(ends.items()):
            tp = TopicPartition("detections.v1", partition)
            while (await reader.committed(tp) or 0) < end:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{group} has not committed {tp} up to {end}")
                await asyncio.sleep(0.2)
    finally:
        await reader.stop()


async def stored_count(dsn: str, tenant: str) -> int:
    connection = await asyncpg.connect(dsn)
    try:
        count: int = await connection.fetchval(
            "SELECT count(*) FROM alerts WHERE tenant_id = $1", tenant
        )
    finally:
        await connection.close()
    return count


async def analyze(dsn: str) -> None:
    """Column statistics, as autovacuum gathers them within its first minute on a new
    database (autovacuum_naptime): without them the planner of a brand-new database
    checks a batch's detection ids by scanning the tenant's alerts."""
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute("ANALYZE")
    finally:
        await connection.close()


async def stored_figures(dsn: str, tenant: str) -> dict[str, Any]:
    connection = await asyncpg.connect(dsn)
    try:
        first, last, count = await connection.fetchrow(
            "SELECT min(stored_at), max(stored_at), count(*) FROM alerts WHERE tenant_id = $1",
            tenant,
        )
        lags = await connection.fetch(
            "SELECT extract(epoch FROM stored_at - ingested_at) FROM alerts WHERE tenant_id = $1",
            tenant,
        )
        cases = await connection.fetchval("SELECT count(*) FROM cases WHERE tenant_id = $1", tenant)
    finally:
        await connection.close()
    return {
        "count": count,
        "span": (last - first).total_seconds() if count > 1 else float("nan"),
        "lags": [float(row[0]) for row in lags],
        "cases": cases,
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    documents = load_corpus(args.data)[: args.limit or None]
    unique = len({d["detection_id"] for d in documents}) * args.copies
    backlog_tenant = TENANT
    paced_tenant = f"{backlog_tenant}-paced"
    async with bench_infrastructure(
        "bench-alerting", args.postgres, args.partitions, args.keep_database
    ) as infra:
        bootstrap, dsn = infra.broker.bootstrap_servers, asyncpg_dsn(infra.database_url)
        backlog = with_copies(as_published(documents, backlog_tenant), args.copies)
        baseline = await measure_kafka(
            bootstrap, [d.model_dump_json().encode() for d in backlog], args.partitions
        )
        backlog_written = await produce(bootstrap, backlog)
        config = PipelineConfig.with_fresh_credentials(
            database_url=infra.database_url,
            bootstrap_servers=bootstrap,
            tenant=backlog_tenant,
            log_dir=infra.workdir / "logs",
            partitions=args.partitions,
            extra_env={
                "CASESTREAM__LOG__LEVEL": "WARNING",
                "CASESTREAM__ALERT_TOPICS__PUBLISH_V1": str(not args.without_alerts_v1).lower(),
                "CASESTREAM__ALERTING__PROCESSES": str(args.alerting_processes),
            },
        )
        services = ServiceProcesses(config, names=("alerting", "relay"))
        await asyncio.to_thread(services.start)
        try:
            pid, relay_pid = (services.processes[name].pid for name in ("alerting", "relay"))
            assert pid is not None
            assert relay_pid is not None
            broker_pid = infra.broker.pid
            assert broker_pid is not None
            # CPU from the first stored alert on: start-up (imports, group join) excluded.
            await wait_for_alerts(dsn, backlog_tenant, 1, within_seconds=120)
            await analyze(dsn)
            working, already = read_process_tree(pid), await stored_count(dsn, backlog_tenant)
            relay_before, database_before = read_process(relay_pid), postgres_cpu_seconds()
            broker_before = read_process(broker_pid)
            await wait_for_commits(bootstrap, GROUP, backlog_written.ends, within_seconds=900)
            drained, database_after = read_process_tree(pid), postgres_cpu_seconds()
            relay_after, broker_after = read_process(relay_pid), read_process(broker_pid)
            paced = as_published(documents[: args.paced_count], paced_tenant)
            acks = (await produce(bootstrap, paced, rate=args.rate)).acks
            await wait_for_alerts(
                dsn, paced_tenant, len({d.detection_id for d in paced}), within_seconds=300
            )
            after = read_process_tree(pid)
        finally:
            await asyncio.to_thread(services.stop)
        heavy, light = (
            await stored_figures(dsn, backlog_tenant),
            await stored_figures(dsn, paced_tenant),
        )
    if heavy["count"] != unique:  # the commits said done: every detection must be stored
        raise RuntimeError(f"{heavy['count']} alerts stored of {unique} detections")
    per_second = heavy["count"] / heavy["span"]
    # CPU of each process of the chain per detection drained (start-up excluded).
    cpu = {
        name: round(seconds * 1000 / (unique - already), 3)
        for name, seconds in (
            ("alerting", drained.cpu_seconds - working.cpu_seconds),
            ("relay", relay_after.cpu_seconds - relay_before.cpu_seconds),
            ("postgres", database_after - database_before),
            ("broker", broker_after.cpu_seconds - broker_before.cpu_seconds),
        )
    }
    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "detections": len(backlog),
        "raw_kafka_produce_per_s": round(baseline.produce_per_second),
        "raw_kafka_consume_per_s": round(baseline.consume_per_second),
        "backlog_alerting_per_s": round(per_second),
        "backlog_vs_kafka_consume": round(per_second / baseline.consume_per_second, 3),
        "backlog_cases": heavy["cases"],
        "largest_partition_share": round(
            max(backlog_written.ends.values()) / sum(backlog_written.ends.values()), 2
        ),
        "alerting_cpu_ms_per_detection": cpu["alerting"],
        "relay_cpu_ms_per_detection": cpu["relay"],
        "postgres_cpu_ms_per_detection": cpu["postgres"],
        # Tansu: the backlog read by alerting, the relay's messages, offset commits.
        "broker_cpu_ms_per_detection": cpu["broker"],
        # The whole chain on the machine's two cores: 5,000/s needs it under 0.4 ms.
        "chain_cpu_ms_per_detection": round(sum(cpu.values()), 3),
        "paced_rate_per_s": args.rate,
        "paced_detections": light["count"],
        "paced_latency_p50_ms": round(percentile(light["lags"], 0.5) * 1000, 1),
        "paced_latency_p99_ms": round(percentile(light["lags"], 0.99) * 1000, 1),
        # Of that latency, the broker's part: send to acknowledgement (acks=all).
        "paced_produce_ack_p50_ms": round(percentile(acks, 0.5) * 1000, 1),
        "paced_produce_ack_p99_ms": round(percentile(acks, 0.99) * 1000, 1),
        "alerting_peak_rss_mib": round(after.peak_rss_mib, 1),
        "alerts_v1_published": not args.without_alerts_v1,
        "alerting_processes": args.alerting_processes,
        "partitions": args.partitions,
        "target_per_s": 5_000,
    }
    print_figures(result)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_common_arguments(parser)
    parser.add_argument("--rate", type=float, default=300, help="paced phase, detections/s")
    parser.add_argument("--paced-count", type=int, default=3_000)
    parser.add_argument(
        "--copies",
        type=int,
        default=1,
        help="backlog: the corpus this many times, each copy on earlier days (a longer drain)",
    )
    parser.add_argument(
        "--partitions",
        type=int,
        default=PARTITIONS,
        help="of detections.v1; alerting works one batch per partition at a time",
    )
    parser.add_argument(
        "--alerting-processes",
        type=int,
        default=1,
        help="consumer processes of the one alerting instance (alerting.processes)",
    )
    parser.add_argument(
        "--without-alerts-v1",
        action="store_true",
        help="as an installation that retired the deprecated alerts.v1 (docs/alert-topics.md)",
    )
    args = parser.parse_args()
    result = asyncio.run(run(args))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "alerting-latest.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
