"""Bulk-load a tenant's cases, alerts, case entities and audit events straight into
Postgres, for benchmarks of the cases API at volume (issue 5: 1M cases, 10M alerts).

Rows are made by Postgres itself (INSERT ... SELECT generate_series), in chunks, so no
row crosses the wire. The secondary indexes of the loaded tables are dropped first and
built again after the load from their own definitions (pg_indexes), which is several
times faster than maintaining a dozen btrees and two GIN indexes row by row; the
primary keys and unique constraints stay in place throughout, so every NOT NULL and
unique constraint of the current schema is checked as rows go in. Foreign-key triggers
are skipped (session_replication_role = replica): every reference is computed from the
same deterministic case id, md5(tenant ':case:' number)::uuid, so they hold by
construction. Generated columns (severity_rank, tags_folded, search_vector) are
computed by Postgres as usual.

Distributions: created_at spread evenly over the last 90 days (case numbers ascend with
it); statuses mostly closed/resolved for old cases, open ones recent-ish; severities
info 10 %, low 30 %, medium 35 %, high 20 %, critical 5 %; 40 assignees and 20 % of cases
unassigned; 0-3 of 20 tags; 20,000 hosts; 300 rules; titles and descriptions from a
security vocabulary so full-text search finds something. Alerts are spread evenly over
the cases (M/N per case) and carry a ~300-byte detection payload.

Each loaded case has exactly one `case.opened` audit event whose hash is computed in SQL
(sha256 over the same canonical JSON libs/common/casestore/chain.py hashes), so the
chain verifies. Its payload is smaller than the service's CaseOpenedV1 dump: type,
case number, title and severity only.

Also loads a few rows for two other tenants (5 % of the volume) so the tenant filter is
not a no-op. `python -m bench.cases_loader --postgres URL --cases N --alerts M` loads
into an existing migrated database (for trying things by hand)."""

from __future__ import annotations

import argparse
import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from libs.common.casestore.counts import RECOUNT
from libs.embedded.postgres import asyncpg_dsn

LOADED_TABLES = ("cases", "alerts", "case_entities", "case_events")
CHUNK = 100_000
DAYS = 90
ASSIGNEES = 40
HOSTS = 20_000
RULES = 300
ACTOR = "bench-loader"

TAGS = [
    "phishing", "malware", "ransomware", "lateral-movement", "credential-access",
    "exfiltration", "persistence", "recon", "brute-force", "insider", "vip", "pci",
    "false-positive-candidate", "edr", "cloud", "email", "network", "identity",
    "needs-review", "escalated-tier2",
]  # fmt: skip
TITLE_WORDS = [
    "Suspicious", "Malicious", "Anomalous", "Unusual", "Repeated", "Blocked", "Possible",
    "Confirmed", "Outbound", "Inbound",
]  # fmt: skip
TITLE_TOPICS = [
    "PowerShell execution", "credential dumping", "beaconing", "login failures",
    "privilege escalation", "phishing link click", "macro document", "DNS tunnelling",
    "service creation", "scheduled task", "RDP session", "archive upload",
    "mimikatz activity", "ransomware note", "registry run key", "token theft",
]  # fmt: skip
DESCRIPTION_WORDS = [
    "analyst", "observed", "process", "spawned", "encoded", "command", "parent", "child",
    "network", "connection", "external", "address", "domain", "registered", "recently",
    "user", "account", "logon", "workstation", "server", "lsass", "memory", "access",
    "file", "written", "temp", "directory", "hash", "matched", "threat", "intel", "feed",
    "email", "attachment", "opened", "browser", "download", "script", "cobalt", "strike",
    "beacon", "interval", "jitter", "sinkhole", "firewall", "blocked", "allowed", "proxy",
    "certificate", "selfsigned", "exfiltration", "volume", "unusual", "hour", "weekend",
    "service", "installed", "driver", "unsigned", "kerberos", "ticket", "golden",
]  # fmt: skip
SOURCES = ["edr", "siem", "cloudtrail", "okta", "proxy", "mail-gateway"]

# One generated case, as SQL over the series variable i (the case number) and the
# parameters: $1::text tenant, $2 first number, $3 last number, $4 total cases, $5 start time,
# $6 tags, $7 title words, $8 title topics, $9 description words.
CASE_ID = "md5($1::text || ':case:' || {n})::uuid"
CASE_CREATED = "date_trunc('second', $5::timestamptz + ({n}::float8 / $4) * interval '{days} days')"
CASE_HOST = "'ws-' || lpad((({n}::bigint * 7919) % {hosts})::text, 5, '0') || '.corp.example'"

CASES_SQL = f"""
INSERT INTO cases (
    id, tenant_id, number, title, description, status, workflow, severity, group_key, host,
    rule_id, alert_count, assignee, tags, first_event_at, last_event_at, created_at,
    updated_at, acknowledged_at, resolved_at, closed_at, classification,
    requires_human_approval, sla_notices
)
SELECT id, $1::text, i, title, description, status, 'triage', severity, 'host:' || host, host,
       rule_id, $10, assignee, tags, created, created, created,
       created + CASE WHEN status = 'new' THEN interval '0' ELSE interval '3 hours' END,
       CASE WHEN status <> 'new' THEN created + interval '12 minutes' END,
       CASE WHEN status IN ('resolved', 'closed') THEN created + interval '2 hours' END,
       CASE WHEN status = 'closed' THEN created + interval '3 hours' END,
       CASE WHEN status = 'closed' THEN
           (ARRAY['true_positive', 'false_positive', 'benign'])[1 + i % 3]
           ELSE 'pending' END,
       false, '{{}}'
FROM (
    SELECT i,
           {CASE_ID.format(n="i")} AS id,
           {CASE_CREATED.format(n="i", days=DAYS)} AS created,
           {CASE_HOST.format(n="i", hosts=HOSTS)} AS host,
           'rule-' || (1 + (i * 31) % {RULES}) AS rule_id,
           ($7::text[])[1 + (i * 7) % array_length($7::text[], 1)] || ' '
               || ($8::text[])[1 + (i * 13) % array_length($8::text[], 1)] || ' on '
               || {CASE_HOST.format(n="i", hosts=HOSTS)} AS title,
           (SELECT string_agg(($9::text[])[1 + ((i * p) % array_length($9::text[], 1))], ' ')
              FROM unnest(ARRAY[3, 5, 11, 17, 23, 29, 37, 41, 43, 47, 53, 59]) AS p)
               || ' ' || lower(($8::text[])[1 + (i * 13) % array_length($8::text[], 1)])
               AS description,
           CASE WHEN r1 < 0.10 THEN 'info' WHEN r1 < 0.40 THEN 'low'
                WHEN r1 < 0.75 THEN 'medium' WHEN r1 < 0.95 THEN 'high'
                ELSE 'critical' END AS severity,
           -- the newer the case, the likelier it is still open
           CASE WHEN r2 < 0.6 * i / $4 * 0.5 THEN 'new'
                WHEN r2 < 0.6 * i / $4 * 0.7 THEN 'acknowledged'
                WHEN r2 < 0.6 * i / $4 THEN 'in_progress'
                WHEN r2 < 0.6 * i / $4 + 0.15 THEN 'resolved'
                ELSE 'closed' END AS status,
           CASE WHEN i % 5 = 0 THEN NULL ELSE 'analyst-' || (1 + i % {ASSIGNEES}) END
               AS assignee,
           ($6::text[])[1 + i % 17 : i % 17 + i % 4]::varchar(128)[] AS tags
    FROM (SELECT i, random() AS r1, random() AS r2
          FROM generate_series($2::bigint, $3::bigint) AS i) AS g
    OFFSET 0  -- compute each derived value once, not once per use
) AS c
"""  # noqa: S608 - module constants only; every value is a bind parameter

# $1::text tenant, $2 first alert, $3 last alert, $4 total cases, $5 start time, $6 sources
ALERTS_SQL = f"""
INSERT INTO alerts (
    id, tenant_id, detection_id, case_id, title, severity, rule_id, rule_name, host,
    source, group_key, event_time, effective_time, time_fallback, ingested_at, stored_at,
    detection, entity_keys, occurrence_count, last_seen
)
SELECT gen_random_uuid(), $1::text, 'det-' || j, {CASE_ID.format(n="c")},
       'Detection ' || rule_id || ' on ' || host, severity, rule_id,
       'Rule ' || rule_id, host, source, 'host:' || host, t, t, false,
       t + interval '2 seconds', t + interval '3 seconds',
       doc::json, casestream_alert_entity_keys($1::text, doc, host), 1, t
FROM (
SELECT j, c, source, rule_id, host, severity, t,
       jsonb_build_object(
           'detection_id', 'det-' || j, 'rule', jsonb_build_object('id', rule_id,
               'name', 'Rule ' || rule_id, 'severity', severity),
           'host', host, 'source', source, 'time', t,
           'entities', jsonb_build_array(
               jsonb_build_object('type', 'user', 'value', 'user' || (c % 3000)),
               jsonb_build_object('type', 'ip', 'value',
                   '10.' || (c % 250) || '.' || (j % 250) || '.' || (c % 199 + 1))),
           'process', jsonb_build_object('name', 'powershell.exe', 'pid', 1000 + j % 60000,
               'command_line', '-enc ' || md5(j::text))) AS doc
FROM (
    SELECT j, c, ($6::text[])[1 + j % array_length($6::text[], 1)] AS source,
           'rule-' || (1 + (c * 31) % {RULES}) AS rule_id,
           {CASE_HOST.format(n="c", hosts=HOSTS)} AS host,
           (ARRAY['info', 'low', 'medium', 'high', 'critical'])[1 + (j % 97) % 5] AS severity,
           {CASE_CREATED.format(n="c", days=DAYS)} + (j % 600) * interval '1 second' AS t
    FROM (SELECT j, 1 + (j % $4) AS c FROM generate_series($2::bigint, $3::bigint) AS j) s
    OFFSET 0  -- compute each derived value once, not once per use
) AS a
OFFSET 0  -- build each document once, for both of its columns
) AS d
"""  # noqa: S608 - module constants only; every value is a bind parameter

# Three entities per case: its host, a user and an IP (lower-cased, as the store keeps them).
ENTITIES_SQL = f"""
INSERT INTO case_entities (tenant_id, value, entity_type, case_id)
SELECT $1::text, v.value, v.type, {CASE_ID.format(n="i")}
FROM generate_series($2::bigint, $3::bigint) AS i,
     LATERAL (VALUES
         ({CASE_HOST.format(n="i", hosts=HOSTS)}, 'host'),
         ('user' || (i % 3000), 'user'),
         ('10.' || (i % 250) || '.' || (i % 250) || '.' || (i % 199 + 1), 'ip')
     ) AS v(value, type)
"""  # noqa: S608 - module constants only; every value is a bind parameter

# One case.opened event per case, hashed like libs/common/casestore/chain.py: sha256 of
# "\n" + canonical JSON (sorted keys, no spaces) of the event; no previous hash.
EVENTS_SQL = f"""
INSERT INTO case_events (event_id, tenant_id, case_id, type, actor, occurred_at, payload,
                         prev_hash, hash)
SELECT event_id, $1::text, case_id, 'case.opened', '{ACTOR}', created, payload::jsonb, NULL,
       encode(sha256(convert_to(E'\\n' || '{{"actor":"{ACTOR}","case_id":"' || case_id
           || '","event_id":"' || event_id || '","occurred_at":"'
           || to_char(created AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS') || '+00:00'
           || '","payload":' || payload || ',"tenant_id":"' || $1::text
           || '","type":"case.opened"}}', 'UTF8')), 'hex')
FROM (
    SELECT c.id AS case_id, md5($1::text || ':event:' || c.number)::uuid AS event_id,
           c.created_at AS created,
           '{{"case_number":' || c.number || ',"severity":"' || c.severity
               || '","title":"' || c.title || '","type":"case.opened"}}' AS payload
    FROM cases c
    WHERE c.tenant_id = $1::text AND c.number BETWEEN $2 AND $3
) AS e
"""  # noqa: S608 - module constants only; every value is a bind parameter


@dataclass(frozen=True)
class LoadFigures:
    cases: int
    alerts: int
    rows: int
    seconds: float
    index_seconds: float

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def case_id_sql() -> str:
    """The id of loaded case number $2 of tenant $1, as the loader makes it."""
    return "SELECT " + CASE_ID.format(n="$2::bigint")


async def _secondary_indexes(connection: asyncpg.Connection) -> list[tuple[str, str]]:
    """(name, definition) of the loaded tables' indexes that back no constraint."""
    rows = await connection.fetch(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i "
        "WHERE i.schemaname = 'public' AND i.tablename = ANY($1::text[]) "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
        list(LOADED_TABLES),
    )
    return [(r["indexname"], r["indexdef"]) for r in rows]


async def _chunked(
    pool: asyncpg.Pool, sql: str, total: int, args: tuple[object, ...], label: str
) -> None:
    """Run `sql` over [1, total] in CHUNK-sized ranges, two at a time (two cores)."""
    ranges = [(lo, min(total, lo + CHUNK - 1)) for lo in range(1, total + 1, CHUNK)]
    done = 0
    started = time.monotonic()

    async def one(lo: int, hi: int) -> None:
        nonlocal done
        async with pool.acquire() as connection:
            await connection.execute("SET session_replication_role = replica")
            await connection.execute(sql, args[0], lo, hi, *args[1:])
        done += hi - lo + 1
        if len(ranges) > 4:
            elapsed = time.monotonic() - started
            print(f"  {label}: {done:,}/{total:,} ({done / elapsed:,.0f} rows/s)", flush=True)

    semaphore = asyncio.Semaphore(2)

    async def limited(lo: int, hi: int) -> None:
        async with semaphore:
            await one(lo, hi)

    await asyncio.gather(*(limited(lo, hi) for lo, hi in ranges))
    elapsed = time.monotonic() - started
    print(f"  {label}: {total:,} rows in {elapsed:.1f} s ({total / elapsed:,.0f}/s)", flush=True)


async def load_tenant(
    pool: asyncpg.Pool, tenant: str, cases: int, alerts: int, start: datetime
) -> int:
    """Load one tenant's rows; returns how many rows went in."""
    per_case = alerts // cases if cases else 0
    await _chunked(
        pool,
        CASES_SQL,
        cases,
        (tenant, cases, start, TAGS, TITLE_WORDS, TITLE_TOPICS, DESCRIPTION_WORDS, per_case),
        f"{tenant} cases",
    )
    await _chunked(pool, ALERTS_SQL, alerts, (tenant, cases, start, SOURCES), f"{tenant} alerts")
    await _chunked(pool, ENTITIES_SQL, cases, (tenant,), f"{tenant} entities")
    await _chunked(pool, EVENTS_SQL, cases, (tenant,), f"{tenant} events")
    async with pool.acquire() as connection:
        await connection.execute(
            "INSERT INTO case_number_counters (tenant_id, last_number) VALUES ($1, $2) "
            "ON CONFLICT (tenant_id) DO UPDATE SET last_number = excluded.last_number",
            tenant,
            cases,
        )
    return cases * 5 + alerts + 1  # cases, 3 entities and 1 event each, alerts, counter


async def load(
    database_url: str, tenant: str, cases: int, alerts: int, others: tuple[str, ...] = ()
) -> LoadFigures:
    """Load `cases` and `alerts` for `tenant`, and 5 % of that for each of `others`."""
    dsn = asyncpg_dsn(database_url)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=DAYS)
    started = time.monotonic()
    async with asyncpg.create_pool(dsn, min_size=2, max_size=2, command_timeout=None) as pool:
        async with pool.acquire() as connection:
            indexes = await _secondary_indexes(connection)
            for name, _ in indexes:
                await connection.execute(f'DROP INDEX "{name}"')
        rows = await load_tenant(pool, tenant, cases, alerts, start)
        for other in others:
            rows += await load_tenant(pool, other, max(1, cases // 20), max(1, alerts // 20), start)
        index_started = time.monotonic()

        async def build(definition: str) -> None:
            async with pool.acquire() as connection:
                await connection.execute("SET maintenance_work_mem = '1GB'")
                await connection.execute(definition)

        semaphore = asyncio.Semaphore(2)

        async def limited(definition: str) -> None:
            async with semaphore:
                await build(definition)

        await asyncio.gather(*(limited(definition) for _, definition in indexes))
        index_seconds = time.monotonic() - index_started
        async with pool.acquire() as connection:
            # Rows went in with triggers off: count the cases the way the triggers would.
            await connection.execute(RECOUNT)
            await connection.execute(
                "VACUUM (ANALYZE) cases, alerts, case_entities, case_events, case_count_deltas"
            )
    figures = LoadFigures(cases, alerts, rows, time.monotonic() - started, index_seconds)
    print(
        f"loaded {cases:,} cases and {alerts:,} alerts ({rows:,} rows with other tenants, "
        f"entities and events) in {figures.seconds:.1f} s: "
        f"{figures.rows_per_second:,.0f} rows/s (index builds {index_seconds:.1f} s)",
        flush=True,
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--postgres", required=True, help="a migrated database's URL")
    parser.add_argument("--tenant", default="bench-tenant")
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--alerts", type=int, default=100_000)
    args = parser.parse_args()
    asyncio.run(load(args.postgres, args.tenant, args.cases, args.alerts, ("other-a", "other-b")))


if __name__ == "__main__":
    main()
