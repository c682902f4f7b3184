"""Replaying the shared corpus: loading it and posting it to ingest over HTTP."""

from __future__ import annotations

import asyncio
import gzip
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.http_load import ConnectionPool
from libs.embedded.pipeline import PipelineConfig
from services.ingest.normalize import normalize_native
from services.ingest.schemas import NativeDetection

CORPUS = ("otrf_sigma.jsonl.gz", "sigma_regression.jsonl.gz")


def load_corpus(data_dir: Path) -> list[dict[str, Any]]:
    detections = []
    for name in CORPUS:
        with gzip.open(data_dir / "detections" / name, "rt", encoding="utf-8") as lines:
            detections += [json.loads(line) for line in lines if line.strip()]
    return detections


def published_sizes(detections: list[dict[str, Any]]) -> list[bytes]:
    """The messages ingest would publish, so the baseline moves the same bytes."""
    now = datetime.now(UTC)
    return [
        normalize_native(NativeDetection.model_validate(d), d, "bench", now)
        .model_dump_json()
        .encode()
        for d in detections
    ]


async def post_corpus(
    config: PipelineConfig,
    detections: list[dict[str, Any]],
    batch: int,
    concurrency: int,
    rate: float = 0,
) -> tuple[float, list[float]]:
    """Returns the seconds from the first request to the last 202, and per-request latency.

    Bodies are encoded before the clock starts and sent on keep-alive connections
    (bench.http_load): the client shares the two cores with what it measures, and
    encoding 1,000 detections per request cost it ~40 ms of CPU each time."""
    bodies = [
        json.dumps(detections[i : i + batch], separators=(",", ":")).encode()
        for i in range(0, len(detections), batch)
    ]
    counts = [min(batch, len(detections) - i) for i in range(0, len(detections), batch)]
    queue: asyncio.Queue[tuple[bytes, int]] = asyncio.Queue()
    for body, count in zip(bodies, counts, strict=True):
        queue.put_nowait((body, count))
    latencies: list[float] = []
    headers = {"authorization": f"Bearer {config.ingest_key}"}
    sent = 0

    async def worker(client: ConnectionPool) -> None:
        nonlocal sent
        while not queue.empty():
            body, count = queue.get_nowait()
            if rate:  # paced replay: hold each batch until its slot at `rate` detections/s
                await asyncio.sleep(max(0.0, begin + sent / rate - time.perf_counter()))
            sent += count
            started = time.perf_counter()
            response = await client.post("/api/v1/detections", body)
            latencies.append(time.perf_counter() - started)
            if response.status != 202 or response.json()["rejected"]:
                raise RuntimeError(f"ingest refused a batch: {response.body[:500]!r}")

    async with ConnectionPool(config.ingest_url, headers, concurrency) as client:
        begin = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        return time.perf_counter() - begin, latencies
