"""`make bench`: replay the shared detection corpus over HTTP through the real ingest and
alerting processes on Tansu and Postgres, against the raw broker rate measured in the
same run. Prints throughput, ingest→case-committed latency, CPU per detection, peak RSS."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx

from bench.infrastructure import add_common_arguments, bench_infrastructure
from bench.kafka_baseline import KafkaBaseline, measure_kafka
from bench.measure import ProcessFigures, percentile, print_figures, read_process
from bench.replay import load_corpus, post_corpus, published_sizes
from libs.embedded.pipeline import PipelineConfig, ServiceProcesses
from libs.embedded.postgres import asyncpg_dsn

PARTITIONS = 3


async def warm_up(config: PipelineConfig, sample: dict[str, Any], dsn: str) -> None:
    """One detection through the pipeline before timing starts: the consumer group join
    (about 6 s on Tansu) is start-up cost, not per-detection latency."""
    warm = {**sample, "detection_id": f"warm-up-{uuid.uuid4().hex}"}
    async with httpx.AsyncClient(base_url=config.ingest_url, timeout=60) as client:
        response = await client.post(
            "/api/v1/detections",
            json=warm,
            headers={"authorization": f"Bearer {config.ingest_key}"},
        )
        response.raise_for_status()
    await wait_for_alerts(dsn, config.tenant, 1, within_seconds=60)
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(
            "UPDATE alerts SET tenant_id = 'bench-warm-up' WHERE tenant_id = $1", config.tenant
        )
        await connection.execute(
            "UPDATE grouping_slots SET tenant_id = 'bench-warm-up' WHERE tenant_id = $1",
            config.tenant,
        )
        await connection.execute(
            "UPDATE cases SET tenant_id = 'bench-warm-up' WHERE tenant_id = $1", config.tenant
        )
    finally:
        await connection.close()


async def wait_for_alerts(dsn: str, tenant: str, expected: int, within_seconds: float) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        deadline = time.monotonic() + within_seconds
        while (
            await connection.fetchval("SELECT count(*) FROM alerts WHERE tenant_id = $1", tenant)
            < expected
        ):
            if time.monotonic() > deadline:
                raise TimeoutError(f"fewer than {expected} alerts after {within_seconds:.0f} s")
            await asyncio.sleep(0.2)
    finally:
        await connection.close()


async def pipeline_figures(dsn: str, tenant: str) -> dict[str, Any]:
    connection = await asyncpg.connect(dsn)
    try:
        lags = [
            r[0]
            for r in await connection.fetch(
                "SELECT extract(epoch FROM stored_at - ingested_at) FROM alerts "
                "WHERE tenant_id = $1",
                tenant,
            )
        ]
        first, last = await connection.fetchrow(
            "SELECT min(ingested_at), max(stored_at) FROM alerts WHERE tenant_id = $1", tenant
        )
        cases = await connection.fetchval("SELECT count(*) FROM cases WHERE tenant_id = $1", tenant)
    finally:
        await connection.close()
    return {
        "latencies": [float(x) for x in lags],
        "span": (last - first).total_seconds(),
        "cases": cases,
    }


def cpu_used(
    before: dict[str, ProcessFigures], after: dict[str, ProcessFigures]
) -> dict[str, float]:
    return {name: after[name].cpu_seconds - before[name].cpu_seconds for name in after}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    detections = load_corpus(args.data)[: args.limit or None]
    unique = len({d["detection_id"] for d in detections})
    async with bench_infrastructure("bench", args.postgres, PARTITIONS) as infra:
        workdir, broker, database_url = infra.workdir, infra.broker, infra.database_url
        baseline = await measure_kafka(
            broker.bootstrap_servers, published_sizes(detections), PARTITIONS
        )

        tenant = f"bench-{uuid.uuid4().hex[:6]}"
        config = PipelineConfig.with_fresh_credentials(
            database_url=database_url,
            bootstrap_servers=broker.bootstrap_servers,
            tenant=tenant,
            log_dir=workdir / "logs",
            partitions=PARTITIONS,
            extra_env={"CASESTREAM__LOG__LEVEL": args.log_level},
        )
        services = ServiceProcesses(config, names=("ingest", "alerting", "relay"))
        await asyncio.to_thread(services.start)
        try:
            pids = {name: p.pid for name, p in services.processes.items()} | {"tansu": broker.pid}
            await warm_up(config, detections[0], asyncpg_dsn(database_url))
            before = {name: read_process(pid) for name, pid in pids.items() if pid}
            post_seconds, request_latencies = await post_corpus(
                config, detections, args.batch, args.concurrency, args.rate
            )
            await wait_for_alerts(asyncpg_dsn(database_url), tenant, unique, within_seconds=600)
            after = {name: read_process(pid) for name, pid in pids.items() if pid}
        finally:
            await asyncio.to_thread(services.stop)
        figures = await pipeline_figures(asyncpg_dsn(database_url), tenant)
        return report(
            detections,
            unique,
            baseline,
            post_seconds,
            request_latencies,
            figures,
            cpu_used(before, after),
            after,
            args,
        )


def report(
    detections: list[dict[str, Any]],
    unique: int,
    baseline: KafkaBaseline,
    post_seconds: float,
    request_latencies: list[float],
    figures: dict[str, Any],
    cpu: dict[str, float],
    peak: dict[str, ProcessFigures],
    args: argparse.Namespace,
) -> dict[str, Any]:
    n = len(detections)
    lat = figures["latencies"]
    pipeline_rate = unique / figures["span"]
    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "detections": n,
        "unique_detections": unique,
        "cases": figures["cases"],
        "batch": args.batch,
        "paced_rate_per_s": args.rate or "unpaced",
        "concurrency": args.concurrency,
        "kafka_produce_per_s": round(baseline.produce_per_second),
        "kafka_consume_per_s": round(baseline.consume_per_second),
        "ingest_http_per_s": round(n / post_seconds),
        "pipeline_per_s": round(pipeline_rate),
        "pipeline_vs_kafka_produce": round(pipeline_rate / baseline.produce_per_second, 3),
        "http_batch_p50_ms": round(percentile(request_latencies, 0.5) * 1000, 1),
        "http_batch_p99_ms": round(percentile(request_latencies, 0.99) * 1000, 1),
        "ingest_to_case_p50_ms": round(percentile(lat, 0.5) * 1000, 1),
        "ingest_to_case_p99_ms": round(percentile(lat, 0.99) * 1000, 1),
        "cpu_ms_per_detection": {k: round(v * 1000 / n, 3) for k, v in cpu.items()},
        "peak_rss_mib": {k: round(v.peak_rss_mib, 1) for k, v in peak.items()},
    }
    print_figures(result)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_common_arguments(parser)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument(
        "--rate",
        type=float,
        default=0,
        help="pace the replay at this many detections/s (0: as fast as possible)",
    )
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args()
    result = asyncio.run(run(args))
    args.out.mkdir(parents=True, exist_ok=True)
    name = f"pipeline-{'paced' if args.rate else 'unpaced'}-latest.json"
    (args.out / name).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
