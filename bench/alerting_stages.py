"""`python -m bench.alerting_stages`: alerting's own CPU per detection, in-process.

The corpus (with `--copies`) is encoded as `detections.v1` messages and handed, batch by
batch, to the handler the Kafka consumer calls (`DetectionBatches`): decoding, grouping,
the transaction on a real PostgreSQL, the outbox rows. No broker and no relay run, and
only this process' CPU is counted (`time.process_time`): the figure to watch when
changing alerting's Python. `make bench-alerting` measures the whole chain. The machine
still moves it (±15 % between runs in session 12), so compare in turns:

    make bench-compare ARGS="--baseline <rev> --benchmark alerting_stages -- --copies 2"
    uv run python -m bench.alerting_stages --copies 4 [--batch 250] [--profile out.prof]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench.alerting import TENANT, analyze, as_published, with_copies
from bench.infrastructure import add_common_arguments, bench_infrastructure
from bench.measure import print_figures
from bench.replay import load_corpus
from libs.common.casestore.numbers import SeparateCaseNumbers
from libs.common.casestore.store import CaseStore
from libs.common.db.engine import create_engine, create_session_factory
from libs.common.heap import freeze_startup_heap
from libs.common.logging import configure_logging
from libs.common.outbox import OutboxRelay
from libs.common.settings import DatabaseSettings, KafkaSettings, LogSettings, OutboxSettings
from libs.embedded.postgres import asyncpg_dsn
from services.alerting.handlers import DetectionBatches
from services.alerting.service import GroupingService
from services.alerting.settings import AlertingSection
from services.ingest.publisher import kafka_headers


@dataclass(frozen=True)
class Record:
    """What the handler reads of an aiokafka ConsumerRecord."""

    partition: int
    offset: int
    key: bytes
    value: bytes
    headers: Sequence[tuple[str, bytes]]


class NoBroker:
    """Dead letters would need a broker: none is expected from the corpus."""

    async def publish(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("a corpus detection was dead-lettered")


def batches(args: argparse.Namespace) -> list[list[Record]]:
    documents = load_corpus(args.data)[: args.limit or None]
    detections = with_copies(as_published(documents, TENANT), args.copies)
    records = [
        Record(0, offset, d.partition_key(), d.model_dump_json().encode(), kafka_headers(d))
        for offset, d in enumerate(detections)
    ]
    size = args.batch
    return [records[start : start + size] for start in range(0, len(records), size)]


async def run(args: argparse.Namespace) -> dict[str, Any]:
    configure_logging(LogSettings(level="WARNING"), service="alerting")
    work = batches(args)
    count = sum(len(batch) for batch in work)
    async with bench_infrastructure("alerting-stages", args.postgres, 1) as infra:
        engine = create_engine(DatabaseSettings(url=infra.database_url))
        sessions = create_session_factory(engine)
        grouping = GroupingService(
            CaseStore(
                source="casestream/alerting",
                publish_alerts_v1=True,
                numbers=SeparateCaseNumbers(sessions),
            )
        )
        relay = OutboxRelay(sessions, KafkaSettings(), OutboxSettings())
        handle = DetectionBatches(NoBroker(), sessions, grouping, relay)  # type: ignore[arg-type]
        freeze_startup_heap()
        gc.collect()
        cpu, wall = [], []
        profile = cProfile.Profile() if args.profile else None
        try:
            for batch in work:
                started, started_cpu = time.perf_counter(), time.process_time()
                if profile is not None:
                    profile.enable()
                if not await handle(list(batch)):
                    raise RuntimeError("a batch failed: see the log")
                if profile is not None:
                    profile.disable()
                cpu.append((time.process_time() - started_cpu) / len(batch))
                wall.append((time.perf_counter() - started) / len(batch))
                if len(cpu) == 1:  # statistics, as in bench.alerting (its `analyze`)
                    await analyze(asyncpg_dsn(infra.database_url))
        finally:
            await engine.dispose()
        if profile is not None:
            profile.dump_stats(args.profile)
    # The first batches warm caches and prepare statements: the median is the figure.
    return {
        "detections": count,
        "batch": args.batch,
        "alerting_cpu_ms_per_detection_median": round(1000 * statistics.median(cpu), 4),
        "alerting_cpu_ms_per_detection_mean": round(1000 * sum(cpu) / len(cpu), 4),
        "wall_ms_per_detection_median": round(1000 * statistics.median(wall), 4),
        "wall_ms_per_detection_by_fifth": [
            round(1000 * statistics.mean(part), 3) for part in _fifths(wall)
        ],
        "cpu_ms_per_detection_by_fifth": [
            round(1000 * statistics.mean(part), 3) for part in _fifths(cpu)
        ],
    }


def _fifths(values: list[float]) -> list[list[float]]:
    step = max(1, len(values) // 5)
    return [values[start : start + step] for start in range(0, step * 5, step)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_common_arguments(parser)
    parser.add_argument("--copies", type=int, default=2, help="the corpus this many times")
    parser.add_argument(
        "--batch", type=int, default=AlertingSection().batch_max_records, help="per transaction"
    )
    parser.add_argument("--profile", default="", help="write a cProfile of the batches here")
    args = parser.parse_args()
    figures = asyncio.run(run(args))
    print_figures(figures)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "alerting-stages-latest.json").write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
