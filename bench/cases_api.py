"""`make bench-cases`: the cases API at two volumes in one run, against the real
`python -m services.cases` process: a small database (10k cases, 100k alerts) as the
baseline, and a large one (1M cases, 10M alerts; --large-cases/--large-alerts shrink it).

Each scale gets its own throwaway database (bulk-loaded by bench.cases_loader, then
dropped) and its own cases process. Measured with concurrent keep-alive connections
(bench.http_load, light enough to leave the cores to the server): create
(POST /api/v1/cases) throughput and p50/p99 with 2, 32 and 128 clients creating at
once (--create-concurrency; concurrent creates are committed together); GET one case;
list (first page, a filtered page, a page 100 pages deep through the cursor); full-text
search (a rare and a common term); CPU per request of the cases process and its peak
RSS. Targets (issue 5): list p99 <= 50 ms at 1M cases, create >= 1,000/s.

Interrupted runs: Ctrl-C and SIGTERM drop the database on the way out; only a SIGKILL
(or a crash of the machine) leaves a `cs_bench_*` database behind; docs/benchmarks.md
has the cleanup."""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import signal
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from bench.cases_loader import case_id_sql, load
from bench.http_load import Answer, ConnectionPool
from bench.infrastructure import add_common_arguments, bench_infrastructure
from bench.measure import percentile, read_process
from libs.embedded.pipeline import PipelineConfig, ServiceProcesses
from libs.embedded.postgres import asyncpg_dsn

TARGET_LIST_P99_MS = 50.0
TARGET_CREATE_PER_S = 1_000.0
OTHER_TENANTS = ("bench-other-a", "bench-other-b")


@dataclass(frozen=True)
class Scale:
    name: str
    cases: int
    alerts: int


@dataclass
class Phase:
    requests: int
    seconds: float
    latencies: list[float]
    cpu_seconds: float

    def figures(self) -> dict[str, float]:
        return {
            "per_s": round(self.requests / self.seconds, 1),
            "p50_ms": round(percentile(self.latencies, 0.5) * 1000, 1),
            "p99_ms": round(percentile(self.latencies, 0.99) * 1000, 1),
            "cpu_ms_per_request": round(self.cpu_seconds * 1000 / self.requests, 2),
        }


Request = Callable[[ConnectionPool, int], Awaitable[Answer]]


async def timed(
    client: ConnectionPool, pid: int, request: Request, count: int, concurrency: int
) -> Phase:
    """`count` requests, `concurrency` at a time; each must answer 2xx."""
    latencies: list[float] = []
    queue = iter(range(count))

    async def worker() -> None:
        for n in queue:
            started = time.perf_counter()
            response = await request(client, n)
            latencies.append(time.perf_counter() - started)
            if response.status >= 300:
                raise RuntimeError(f"{response.status}: {response.body[:300]!r}")

    cpu_before = read_process(pid).cpu_seconds
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    seconds = time.perf_counter() - started
    return Phase(count, seconds, latencies, read_process(pid).cpu_seconds - cpu_before)


async def loaded_case_ids(database_url: str, tenant: str, cases: int, n: int) -> list[str]:
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        numbers = random.Random(5).sample(range(1, cases + 1), min(n, cases))
        return [str(await connection.fetchval(case_id_sql(), tenant, k)) for k in numbers]
    finally:
        await connection.close()


async def deep_cursor(client: ConnectionPool, pages: int) -> str:
    """The cursor of page `pages + 1` of the default list, walked to page by page."""
    cursor = ""
    for _ in range(pages):
        params = {"limit": "50", **({"cursor": cursor} if cursor else {})}
        response = await client.get("/api/v1/cases", params=params)
        if response.status != 200:
            raise RuntimeError(f"{response.status}: {response.body[:300]!r}")
        cursor = response.json()["next_cursor"]
    return cursor


async def measure_scale(scale: Scale, args: argparse.Namespace) -> dict[str, Any]:
    async with bench_infrastructure(f"cases-{scale.name}", args.postgres, 1) as infra:
        tenant = f"bench-{uuid.uuid4().hex[:6]}"
        print(
            f"--- {scale.name}: loading {scale.cases:,} cases, {scale.alerts:,} alerts", flush=True
        )
        loaded = await load(infra.database_url, tenant, scale.cases, scale.alerts, OTHER_TENANTS)
        config = PipelineConfig.with_fresh_credentials(
            database_url=infra.database_url,
            bootstrap_servers=infra.broker.bootstrap_servers,
            tenant=tenant,
            log_dir=infra.workdir / "logs",
            partitions=1,
            extra_env={"CASESTREAM__LOG__LEVEL": args.log_level},
        )
        ids = await loaded_case_ids(infra.database_url, tenant, scale.cases, 500)
        services = ServiceProcesses(config, names=("cases",))
        await asyncio.to_thread(services.start)
        try:
            pid = services.processes["cases"].pid
            assert pid is not None
            headers = {"authorization": f"Bearer {config.analyst_key}"}
            connections = max(args.concurrency, *args.create_concurrency)
            async with ConnectionPool(config.cases_url, headers, connections) as client:
                phases = await run_phases(client, pid, ids, args)
                verdict = (await client.get(f"/api/v1/cases/{ids[0]}/audit/verify")).json()
            peak = read_process(pid).peak_rss_mib
        finally:
            await asyncio.to_thread(services.stop)
    return {
        "cases": scale.cases,
        "alerts": scale.alerts,
        "load_seconds": round(loaded.seconds, 1),
        "load_rows_per_s": round(loaded.rows_per_second),
        "loaded_audit_chain_verifies": verdict,
        "operations": {name: phase.figures() for name, phase in phases.items()},
        "peak_rss_mib": round(peak, 1),
    }


async def run_phases(
    client: ConnectionPool, pid: int, ids: list[str], args: argparse.Namespace
) -> dict[str, Phase]:
    n, c = args.requests, args.concurrency

    def get_list(params: dict[str, str]) -> Request:
        return lambda http, _: http.get("/api/v1/cases", params=params)

    def create_request(http: ConnectionPool, k: int) -> Awaitable[Answer]:
        body = {
            "title": f"Bench case {k}: suspicious PowerShell on ws-bench-{k % 97}",
            "description": "opened by bench.cases_api",
            "severity": "medium",
            "assignee": f"analyst-{k % 40 + 1}",
            "tags": ["bench", "phishing"],
        }
        return http.post("/api/v1/cases", body)

    # Warm the process and Postgres' caches for the pages measured (not timed).
    await timed(client, pid, lambda http, k: http.get(f"/api/v1/cases/{ids[k % len(ids)]}"), 50, c)
    cursor = await deep_cursor(client, args.deep_pages)
    filtered = {"status": "in_progress", "severity": "high", "limit": "50"}
    phases: dict[str, Phase] = {}
    # Concurrent creates are committed together (services/cases/create_batcher.py), so
    # create throughput depends on how many clients create at once: one phase per level.
    for level in args.create_concurrency:
        phases[f"create_c{level}"] = await timed(client, pid, create_request, args.creates, level)
    phases["get"] = await timed(
        client, pid, lambda http, k: http.get(f"/api/v1/cases/{ids[k % len(ids)]}"), n, c
    )
    phases["list_first_page"] = await timed(client, pid, get_list({"limit": "50"}), n, c)
    phases["list_filtered"] = await timed(client, pid, get_list(filtered), n, c)
    phases[f"list_cursor_page_{args.deep_pages + 1}"] = await timed(
        client, pid, get_list({"limit": "50", "cursor": cursor}), n, c
    )
    phases["search_rare"] = await timed(
        client, pid, get_list({"q": "ws-01234.corp.example", "limit": "50"}), n, c
    )
    phases["search_common"] = await timed(
        client, pid, get_list({"q": "mimikatz", "limit": "50"}), n, c
    )
    return phases


def print_table(results: dict[str, dict[str, Any]]) -> None:
    small, large = results["small"], results["large"]
    small_label = f"small: {small['cases']:,} cases"
    large_label = f"large: {large['cases']:,} cases"
    print(f"{'operation':<22} {small_label:>26}   {large_label:>26}   target")
    print(f"{'':<22} {'/s  p50  p99 ms  cpu ms':>26}   {'/s  p50  p99 ms  cpu ms':>26}")
    for name, s in small["operations"].items():
        big = large["operations"][name]
        target = ""
        if name.startswith("create"):
            target = f">= {TARGET_CREATE_PER_S:,.0f}/s " + (
                "met" if big["per_s"] >= TARGET_CREATE_PER_S else "NOT met"
            )
        elif name.startswith("list"):
            target = f"p99 <= {TARGET_LIST_P99_MS:.0f} ms " + (
                "met" if big["p99_ms"] <= TARGET_LIST_P99_MS else "NOT met"
            )

        def cells(f: dict[str, float]) -> str:
            return (
                f"{f['per_s']:>7,.0f} {f['p50_ms']:>6.1f} {f['p99_ms']:>6.1f} "
                f"{f['cpu_ms_per_request']:>5.2f}"
            )

        print(f"{name:<22} {cells(s):>26}   {cells(big):>26}   {target}")
    for key in ("load_seconds", "load_rows_per_s", "peak_rss_mib"):
        print(f"{key:<22} {small[key]:>26}   {large[key]:>26}")


async def run(args: argparse.Namespace) -> dict[str, Any]:
    scales = [
        Scale("small", args.small_cases, args.small_alerts),
        Scale("large", args.large_cases, args.large_alerts),
    ]
    results = {scale.name: await measure_scale(scale, args) for scale in scales}
    print_table(results)
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "concurrency": args.concurrency,
        "requests_per_read_operation": args.requests,
        "creates": args.creates,
        "create_concurrency": args.create_concurrency,
        "targets": {"list_p99_ms": TARGET_LIST_P99_MS, "create_per_s": TARGET_CREATE_PER_S},
        **results,
    }


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> None:
    # A SIGTERM (a CI timeout, `kill`) unwinds like Ctrl-C, so bench_infrastructure drops
    # the throwaway database, which is ~10 GB at full scale. Only SIGKILL leaves it.
    signal.signal(signal.SIGTERM, _interrupt)
    parser = argparse.ArgumentParser(description=__doc__)
    add_common_arguments(parser)
    parser.add_argument("--small-cases", type=int, default=10_000)
    parser.add_argument("--small-alerts", type=int, default=100_000)
    parser.add_argument("--large-cases", type=int, default=1_000_000)
    parser.add_argument("--large-alerts", type=int, default=10_000_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--requests", type=int, default=1_000, help="per read operation")
    parser.add_argument("--creates", type=int, default=3_000, help="per create phase")
    parser.add_argument(
        "--create-concurrency",
        type=lambda text: [int(part) for part in text.split(",")],
        default=[2, 32, 128],
        help="clients creating at once, one create phase per level (comma-separated)",
    )
    parser.add_argument("--deep-pages", type=int, default=100)
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args()
    result = asyncio.run(run(args))
    args.out.mkdir(parents=True, exist_ok=True)
    name = f"cases-{args.large_cases}-{args.large_alerts}-latest.json"
    (args.out / name).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
