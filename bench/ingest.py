"""`make bench-ingest`: how fast detections get in. HTTP batches of 1, 100 and 1,000
into the real ingest process, and the Kafka way in (detections.raw.v1 → detections.v1),
each as a ratio to the raw broker produce rate measured in the same run."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from bench.infrastructure import BenchInfrastructure, add_common_arguments, bench_infrastructure
from bench.kafka_baseline import measure_kafka
from bench.measure import percentile, read_process
from bench.replay import load_corpus, post_corpus, published_sizes
from libs.embedded.pipeline import PipelineConfig, ServiceProcesses

PARTITIONS = 3
UNLIMITED = "1000000000/minute"
# (batch size, concurrent clients, share of the corpus); single items are slow: fewer.
# Four clients keep a batch of 1,000 uploading while others are parsed and published.
HTTP_SCENARIOS = ((1, 8, 0.15), (100, 4, 1.0), (1_000, 4, 1.0))


async def kafka_native(bootstrap: str, detections: list[dict[str, Any]]) -> float:
    """Detections/s from the first raw record produced to the last normalized one seen."""
    tenant = f"bench-raw-{uuid.uuid4().hex[:6]}"
    watcher = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await watcher.start()
    partitions = [TopicPartition("detections.v1", p) for p in range(PARTITIONS)]
    watcher.assign(partitions)
    await watcher.seek_to_end(*partitions)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=2, max_batch_size=1_048_576)
    await producer.start()
    started = time.perf_counter()
    headers = [("ce_tenantid", tenant.encode())]
    sends = [
        await producer.send("detections.raw.v1", json.dumps(d).encode(), headers=headers)
        for d in detections
    ]
    await asyncio.gather(*sends)
    await producer.stop()
    seen, last = 0, started
    async with asyncio.timeout(300):
        while seen < len(detections):
            for records in (await watcher.getmany(timeout_ms=500)).values():
                mine = [r for r in records if ("ce_tenantid", tenant.encode()) in r.headers]
                if mine:
                    seen, last = seen + len(mine), time.perf_counter()
    await watcher.stop()
    return len(detections) / (last - started)


@asynccontextmanager
async def running_ingest(infra: BenchInfrastructure) -> AsyncIterator[tuple[PipelineConfig, int]]:
    """The real ingest process on the bench's broker and database, rate limits lifted;
    yields its configuration and pid, and stops it after."""
    config = PipelineConfig.with_fresh_credentials(
        database_url=infra.database_url,
        bootstrap_servers=infra.broker.bootstrap_servers,
        tenant="bench",
        log_dir=infra.workdir / "logs",
        partitions=PARTITIONS,
        extra_env={
            "CASESTREAM__LOG__LEVEL": "WARNING",
            "CASESTREAM__INGEST__RATE_LIMIT_PER_KEY": UNLIMITED,
            "CASESTREAM__INGEST__RATE_LIMIT_PER_TENANT": UNLIMITED,
        },
    )
    services = ServiceProcesses(config, names=("ingest",))
    await asyncio.to_thread(services.start, 180.0)
    try:
        pid = services.processes["ingest"].pid
        assert pid is not None
        yield config, pid
    finally:
        await asyncio.to_thread(services.stop)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    detections = load_corpus(args.data)[: args.limit or None]
    async with bench_infrastructure("bench-ingest", args.postgres, PARTITIONS) as infra:
        broker = infra.broker
        baseline = await measure_kafka(
            broker.bootstrap_servers, published_sizes(detections), PARTITIONS
        )
        async with running_ingest(infra) as (config, pid):
            rows = []
            for batch, concurrency, share in HTTP_SCENARIOS:
                items = detections[: max(batch, int(len(detections) * share))]
                before = read_process(pid)
                seconds, latencies = await post_corpus(config, items, batch, concurrency)
                cpu = read_process(pid).cpu_seconds - before.cpu_seconds
                rate = len(items) / seconds
                rows.append(
                    {
                        "way_in": f"HTTP batch {batch} x{concurrency}",
                        "detections": len(items),
                        "per_s": round(rate),
                        "vs_raw_produce": round(rate / baseline.produce_per_second, 3),
                        "request_p50_ms": round(percentile(latencies, 0.5) * 1000, 1),
                        "request_p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
                        "ingest_cpu_ms_per_detection": round(cpu * 1000 / len(items), 3),
                    }
                )
            before = read_process(pid)
            rate = await kafka_native(broker.bootstrap_servers, detections)
            cpu = read_process(pid).cpu_seconds - before.cpu_seconds
            rows.append(
                {
                    "way_in": "Kafka detections.raw.v1",
                    "detections": len(detections),
                    "per_s": round(rate),
                    "vs_raw_produce": round(rate / baseline.produce_per_second, 3),
                    "request_p50_ms": None,
                    "request_p99_ms": None,
                    "ingest_cpu_ms_per_detection": round(cpu * 1000 / len(detections), 3),
                }
            )
            peak = read_process(pid).peak_rss_mib
    result = {
        "raw_produce_per_s": round(baseline.produce_per_second),
        "raw_consume_per_s": round(baseline.consume_per_second),
        "ingest_peak_rss_mib": round(peak, 1),
        "scenarios": rows,
    }
    print(
        f"raw Kafka produce {result['raw_produce_per_s']}/s, consume "
        f"{result['raw_consume_per_s']}/s (baseline, same run); ingest peak RSS {peak:.0f} MiB"
    )
    for row in rows:
        print("  ".join(f"{k}={v}" for k, v in row.items()))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_common_arguments(parser)
    args = parser.parse_args()
    result = asyncio.run(run(args))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ingest-latest.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
