"""`python -m bench.ingest_profile`: py-spy on the real ingest process while the corpus is
posted over HTTP, and where its samples fall, stage by stage. The I/O layers (HTTP,
aiokafka, the event loop) show here; `bench.ingest_stages` times the rest in-process.

    uv run python -m bench.ingest_profile --batch 1000 --clients 2 --rounds 2
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import signal
import sys
from pathlib import Path

from bench.infrastructure import add_common_arguments, bench_infrastructure
from bench.ingest import running_ingest
from bench.measure import read_process
from bench.replay import load_corpus, post_corpus

# A sample counts toward the first stage whose marker is in its innermost matching frame.
STAGES = (
    ("body split and guards", ("_raw_items", "_reads_alike", "may_hold_prefixed_keys")),
    ("stdlib json (pydantic path)", ("parse_documents", "_ndjson", "JSONDecoder")),
    ("body read", ("read_body",)),
    ("format sniffing", ("_sniffs_native", "detect_adapter")),
    ("native decode", ("NativeWire.encode",)),
    ("normalize + encode (fast path)", ("NativeWire._message", "native_entities")),
    ("pydantic path", ("validate_item", "encode_detection")),
    ("event ids, headers", ("new_event_ids", "DetectionHeaders")),
    ("dedup, rate limits (Redis)", ("DuplicateWindow", "DetectionRateLimiter")),
    ("record batches", ("DetectionPublisher",)),
    ("aiokafka sender", ("Sender.", "AIOKafkaConnection", "SendProduceReqHandler")),
    ("HTTP (uvicorn, Starlette, FastAPI)", ("h11", "httptools", "starlette", "fastapi")),
)


def summarize(raw_profile: Path) -> list[tuple[str, float]]:
    counts: collections.Counter[str] = collections.Counter()
    for line in raw_profile.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        stage = "event loop, sockets, other"
        for frame in reversed(stack.split(";")):
            found = next((name for name, marks in STAGES if any(m in frame for m in marks)), None)
            if found:
                stage = found
                break
        counts[stage] += int(count)
    total = sum(counts.values()) or 1
    return [(stage, 100 * n / total) for stage, n in counts.most_common()]


async def run(args: argparse.Namespace) -> None:
    detections = load_corpus(args.data)[: args.limit or None]
    async with (
        bench_infrastructure("ingest-profile", args.postgres, 3) as infra,
        running_ingest(infra) as (config, pid),
    ):
        await post_corpus(config, detections[: args.batch * 2], args.batch, args.clients)
        output = infra.workdir / "ingest.pyspy"
        spy = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).parent / "py-spy"),
            *("record", "--nonblocking", "-r", "200", "-f", "raw"),
            *("-p", str(pid), "-o", str(output)),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        await asyncio.sleep(1.0)  # py-spy attaching
        for _ in range(args.rounds):
            before = read_process(pid)
            seconds, _ = await post_corpus(config, detections, args.batch, args.clients)
            cpu = read_process(pid).cpu_seconds - before.cpu_seconds
            print(
                f"batches of {args.batch} x{args.clients}: {len(detections) / seconds:.0f}/s,"
                f" ingest CPU {cpu * 1e6 / len(detections):.0f} us per detection"
            )
        spy.send_signal(signal.SIGINT)
        await asyncio.wait_for(spy.wait(), 60)
        for stage, share in summarize(output):
            print(f"  {share:5.1f} %  {stage}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_common_arguments(parser)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
