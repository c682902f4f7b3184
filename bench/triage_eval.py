"""`make triage-eval`: how good are the cases? Replays the shared corpus through the
running pipeline (real ingest, alerting and cases processes on Tansu and Postgres) once
per candidate alerting policy, each under its own tenant with the policy stored through
the admin API, then scores the cases against the corpus' ground truth (one recording =
one incident; read for scoring only). Results: docs/triage.md."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx

from bench.infrastructure import add_common_arguments, bench_infrastructure
from bench.pipeline import wait_for_alerts
from bench.replay import load_corpus, post_corpus
from bench.triage_scoring import TriageScore, score
from libs.embedded.pipeline import PipelineConfig, ServiceProcesses
from libs.embedded.postgres import asyncpg_dsn

PARTITIONS = 3
DAY = 24 * 3600
# Candidate policies, by name; every setting left out is the built-in default.
CANDIDATES: dict[str, dict[str, Any]] = {
    "built-in default: host, then user, then ip, 15 min sliding": {},
    "host+rule, 24 h sliding (first policy)": {
        "grouping": {"strategy": "host+rule", "window_seconds": DAY}
    },
    "technique, 24 h sliding": {"grouping": {"strategy": "technique", "window_seconds": DAY}},
    "category+sensor, 24 h sliding": {
        "grouping": {"strategy": "category+sensor", "window_seconds": DAY}
    },
    "user, then host, 24 h sliding": {
        "grouping": {"strategy": "entity", "entity_types": ["user", "host"], "window_seconds": DAY}
    },
    **{
        f"host, {label} sliding": {
            "grouping": {"strategy": "entity", "entity_types": ["host"], "window_seconds": seconds}
        }
        for label, seconds in (
            ("24 h", DAY),
            ("8 h", 8 * 3600),
            ("4 h", 4 * 3600),
            ("2 h", 2 * 3600),
            ("1 h", 3600),
            ("30 min", 1800),
            ("10 min", 600),
            ("5 min", 300),
        )
    },
    "host, 2 h fixed": {
        "grouping": {
            "strategy": "entity",
            "entity_types": ["host"],
            "window_seconds": 2 * 3600,
            "window_kind": "fixed",
        }
    },
}


@dataclasses.dataclass(frozen=True)
class Candidate:
    name: str
    policy: dict[str, Any]
    tenant: str
    ingest_key: str
    admin_key: str


def candidates(only: str | None) -> list[Candidate]:
    run = uuid.uuid4().hex[:6]
    chosen = [(name, p) for name, p in CANDIDATES.items() if not only or only in name]
    if not chosen:
        raise SystemExit(f"no candidate policy name contains {only!r}")
    return [
        Candidate(
            name, policy, f"triage-{n}-{run}", secrets.token_urlsafe(18), secrets.token_urlsafe(18)
        )
        for n, (name, policy) in enumerate(chosen)
    ]


def credentials_env(tenants: list[Candidate]) -> dict[str, str]:
    ingest = [{"key": c.ingest_key, "tenant": c.tenant, "name": "replay"} for c in tenants]
    admins = [{"key": c.admin_key, "tenant": c.tenant, "name": "triage-eval"} for c in tenants]
    return {
        "CASESTREAM__INGEST__API_KEYS": json.dumps(ingest),
        "CASESTREAM__CASES__ADMIN_API_KEYS": json.dumps(admins),
        "CASESTREAM__INGEST__RATE_LIMIT_PER_KEY": "1000000000/minute",
        "CASESTREAM__INGEST__RATE_LIMIT_PER_TENANT": "1000000000/minute",
        "CASESTREAM__LOG__LEVEL": "WARNING",
    }


async def store_policy(config: PipelineConfig, candidate: Candidate) -> int:
    async with httpx.AsyncClient(base_url=config.cases_url, timeout=30) as client:
        response = await client.put(
            "/api/v1/admin/alerting-policy",
            json=candidate.policy,
            headers={"authorization": f"Bearer {candidate.admin_key}"},
        )
        response.raise_for_status()
        version: int = response.json()["version"]
        return version


async def grouping_of(dsn: str, tenant: str) -> dict[str, str]:
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            "SELECT detection_id, case_id::text FROM alerts WHERE tenant_id = $1", tenant
        )
    finally:
        await connection.close()
    return {row[0]: row[1] for row in rows}


async def run(args: argparse.Namespace) -> dict[str, TriageScore]:
    detections = load_corpus(args.data)[: args.limit or None]
    truth = {d["detection_id"]: d["provenance"]["path"] for d in detections if d.get("provenance")}
    unique = len({d["detection_id"] for d in detections})
    tenants = candidates(args.only)
    results: dict[str, TriageScore] = {}
    async with bench_infrastructure("triage", args.postgres, PARTITIONS) as infra:
        config = PipelineConfig.with_fresh_credentials(
            database_url=infra.database_url,
            bootstrap_servers=infra.broker.bootstrap_servers,
            tenant=tenants[0].tenant,
            log_dir=infra.workdir / "logs",
            partitions=PARTITIONS,
            extra_env=credentials_env(tenants),
        )
        services = ServiceProcesses(config, names=("ingest", "alerting", "cases"))
        await asyncio.to_thread(services.start)
        dsn = asyncpg_dsn(infra.database_url)
        try:
            for candidate in tenants:
                version = await store_policy(config, candidate)
                as_tenant = dataclasses.replace(
                    config, tenant=candidate.tenant, ingest_key=candidate.ingest_key
                )
                await post_corpus(as_tenant, detections, batch=500, concurrency=2)
                await wait_for_alerts(dsn, candidate.tenant, unique, within_seconds=900)
                results[candidate.name] = score(await grouping_of(dsn, candidate.tenant), truth)
                print(f"{candidate.name} (policy version {version}): {results[candidate.name]}")
        finally:
            await asyncio.to_thread(services.stop)
    return results


def table(results: dict[str, TriageScore]) -> str:
    lines = [
        "| policy | cases | detections per case (mean / median) | purity | pure cases "
        "| completeness | incidents in one case | cases per incident |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, s in results.items():
        lines.append(
            f"| {name} | {s.cases:,} | {s.detections_per_case_mean:.1f} / "
            f"{s.detections_per_case_median:.0f} | {s.purity:.3f} | {s.pure_cases:.3f} "
            f"| {s.completeness:.3f} | {s.whole_incidents:.3f} | {s.cases_per_incident_mean:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_common_arguments(parser)
    parser.add_argument("--only", help="evaluate only candidates whose name contains this")
    args = parser.parse_args()
    results = asyncio.run(run(args))
    first = next(iter(results.values()))
    print(f"\n{first.detections:,} detections from {first.incidents} incidents\n")
    print(table(results))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "triage-latest.json").write_text(
        json.dumps(
            {
                "when": datetime.now(UTC).isoformat(timespec="seconds"),
                "results": {name: s.as_dict() for name, s in results.items()},
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
