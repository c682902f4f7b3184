"""`python -m bench.ingest_stages`: ingest's CPU per detection, stage by stage, on the
shared corpus in batches of 1,000, in this process (time.process_time, so the figures do
not depend on what else the machine runs). Both ways a native detection can take: the
pydantic path (every other format, and every rejection) and the msgspec fast path of
services/ingest/native_wire.py; publishing through a real Tansu both ways too."""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from msgspec import Raw

from bench.infrastructure import ROOT
from bench.replay import load_corpus
from libs.common.contracts.detections import detection_partition_key
from libs.common.contracts.envelope import CloudEventAttributes, new_event_ids
from libs.common.contracts.topics import DETECTIONS
from libs.common.heap import freeze_startup_heap
from libs.common.kafka import create_producer, ensure_topics
from libs.common.settings import KafkaSettings
from libs.embedded.tansu import TansuBroker
from services.ingest import native_wire
from services.ingest.adapters import detect_adapter
from services.ingest.bodies import _raw_items, _reads_alike, may_hold_prefixed_keys
from services.ingest.entity_rules import EntityExtractor
from services.ingest.normalize import normalize_native
from services.ingest.publisher import DetectionHeaders, DetectionPublisher, OutgoingDetection
from services.ingest.schemas import (
    IngestOutcome,
    IngestResponse,
    ItemOutcome,
    ItemResult,
    ItemStatus,
    NativeDetection,
)

BATCH = 1_000
T = TypeVar("T")


class Stages:
    def __init__(self, detections: int) -> None:
        self.detections = detections
        self.rows: list[tuple[str, str, float]] = []

    def time(self, path: str, stage: str, work: Callable[[], T]) -> T:
        started = time.process_time()
        result = work()
        spent = time.process_time() - started
        self.rows.append((path, stage, spent * 1e6 / self.detections))
        return result

    def print(self) -> None:
        for path in dict.fromkeys(path for path, _, _ in self.rows):
            rows = [(stage, us) for p, stage, us in self.rows if p == path]
            print(f"\n{path}: {sum(us for _, us in rows):.1f} us per detection")
            for stage, us in rows:
                print(f"  {us:7.1f} us  {stage}")


def pydantic_path(stages: Stages, bodies: list[bytes], now: datetime) -> list[bytes]:
    path = "pydantic path (before; still every non-native item)"
    parsed = stages.time(path, "json.loads of the body", lambda: [json.loads(b) for b in bodies])
    docs: list[dict[str, Any]] = [d for batch in parsed for d in batch]
    stages.time(
        path, "format detection (detect_adapter)", lambda: [detect_adapter(d) for d in docs]
    )
    items = stages.time(
        path,
        "NativeDetection.model_validate",
        lambda: [NativeDetection.model_validate(d) for d in docs],
    )
    detections = stages.time(
        path,
        "normalize + DetectionV1 validation (copies raw)",
        lambda: [normalize_native(i, d, "bench", now) for i, d in zip(items, docs, strict=True)],
    )

    def set_ids() -> None:
        for detection in detections:
            detection.occurrence_id = str(uuid.uuid4())

    stages.time(path, "str(uuid.uuid4()) per detection (replaced)", set_ids)
    values = stages.time(
        path,
        "model_dump_json (re-encodes raw)",
        lambda: [d.model_dump_json().encode() for d in detections],
    )
    stages.time(
        path,
        "CloudEventAttributes model per detection for headers (replaced)",
        lambda: [
            CloudEventAttributes.model_construct(
                id=d.occurrence_id or "",
                source="casestream/ingest",
                type="t",
                subject=d.detection_id,
                tenantid=d.tenant_id,
                time=d.ingested_at,
                specversion="1.0",
            ).to_headers()
            for d in detections
        ],
    )

    def response() -> None:
        for start in range(0, len(detections), BATCH):
            items = [
                ItemResult(index=n, detection_id=d.detection_id, status=ItemStatus.ACCEPTED)
                for n, d in enumerate(detections[start : start + BATCH])
            ]
            body = IngestResponse(accepted=len(items), rejected=0, items=items)
            # FastAPI's response_model: validate the returned model again, then serialize.
            IngestResponse.model_validate(body.model_dump()).model_dump_json()

    stages.time(path, "ItemResult models + response_model serialization (replaced)", response)
    return values


def fast_path(stages: Stages, bodies: list[bytes], now: datetime) -> list[OutgoingDetection]:
    path = "msgspec fast path (after)"
    stages.time(path, "body guards (UTF-8, digit runs)", lambda: [_reads_alike(b) for b in bodies])
    prefixed = stages.time(
        path,
        "body guard (keys with a sniff prefix)",
        lambda: [may_hold_prefixed_keys(b) for b in bodies],
    )
    split = stages.time(
        path, "split into msgspec.Raw elements", lambda: [_raw_items(b, False) for b in bodies]
    )
    raws: list[Raw] = [r for batch in split for r in batch or []]
    assert not any(prefixed)
    decoded = stages.time(
        path,
        "decode into Structs with the limits",
        lambda: [native_wire._DECODER.decode(r) for r in raws],
    )
    stages.time(
        path,
        "format sniffing (matchers on a cut-down view)",
        lambda: [
            native_wire._sniffs_native(i, r, False) for i, r in zip(decoded, raws, strict=True)
        ],
    )
    times = stages.time(
        path,
        "timestamp (pydantic's datetime parser)",
        lambda: [
            native_wire._DATETIME.validate_python(i.timestamp) if i.timestamp else None
            for i in decoded
        ],
    )
    ids = stages.time(path, "event ids (bulk)", lambda: new_event_ids(len(raws)))
    batch = native_wire.WireBatch("bench", now)
    wire = native_wire.NativeWire(EntityExtractor())
    values = stages.time(
        path,
        "normalize + encode with raw spliced in",
        lambda: [
            wire._message(i, r, batch, e, t)
            for i, r, e, t in zip(decoded, raws, ids, times, strict=True)
        ],
    )
    headers = DetectionHeaders("bench", now)
    messages = stages.time(
        path,
        "headers, partition keys",
        lambda: [
            OutgoingDetection(
                detection_partition_key("bench", i.host.name if i.host else None),
                v or b"",
                headers.of(e, i.detection_id or ""),
            )
            for i, v, e in zip(decoded, values, ids, strict=True)
        ],
    )

    def response() -> None:
        for start in range(0, len(messages), BATCH):
            items = [
                ItemOutcome(n, i.detection_id, ItemStatus.ACCEPTED)
                for n, i in enumerate(decoded[start : start + BATCH])
            ]
            IngestOutcome(len(items), 0, 0, items).to_json()

    stages.time(path, "response, written once", response)
    return messages


async def publishing(stages: Stages, messages: list[OutgoingDetection], workdir: Path) -> None:
    broker = TansuBroker(workdir / "tansu")
    broker.start()
    try:
        settings = KafkaSettings(bootstrap_servers=broker.bootstrap_servers, topic_partitions=3)
        await ensure_topics(settings)
        producer = create_producer(settings, client_id="bench-stages")
        await producer.start()

        async def one_send_each() -> None:
            for start in range(0, len(messages), BATCH):
                futures = [
                    await producer.send(DETECTIONS.name, m.value, key=m.key, headers=m.headers)
                    for m in messages[start : start + BATCH]
                ]
                await asyncio.gather(*futures)

        await one_send_each()  # connections, metadata
        started = time.process_time()
        await one_send_each()
        spent = time.process_time() - started
        stages.rows.append(
            ("publishing", "one aiokafka send per message (before)", spent * 1e6 / len(messages))
        )
        await producer.stop()
        publisher = DetectionPublisher(settings)
        await publisher.start()
        await publisher.publish(messages[:BATCH])
        started = time.process_time()
        for start in range(0, len(messages), BATCH):
            assert not any(await publisher.publish(messages[start : start + BATCH]))
        spent = time.process_time() - started
        stages.rows.append(
            ("publishing", "record batch per partition (after)", spent * 1e6 / len(messages))
        )
        await publisher.stop()
    finally:
        broker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    detections = load_corpus(args.data)
    bodies = [
        json.dumps(detections[i : i + BATCH]).encode() for i in range(0, len(detections), BATCH)
    ]
    freeze_startup_heap()  # the service's garbage-collector settings
    now = datetime.now(UTC)
    stages = Stages(len(detections))
    pydantic_path(stages, bodies, now)
    messages = fast_path(stages, bodies, now)
    with tempfile.TemporaryDirectory(prefix="casestream-stages-") as workdir:
        asyncio.run(publishing(stages, messages, Path(workdir)))
    print(
        f"{len(detections)} detections, "
        f"{sum(map(len, bodies)) // len(detections)} bytes each on average"
    )
    stages.print()


if __name__ == "__main__":
    main()
