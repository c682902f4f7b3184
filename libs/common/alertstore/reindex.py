"""`python -m libs.common.alertstore.reindex --tenant T [--from ...] [--to ...]`: write a
tenant's alerts from Postgres to the OpenSearch alert store, page by page. For alerts
stored before the store was switched to OpenSearch (alerting announces changes only
while it is), and to repair after an outage longer than Kafka's retention or a refused
mapping. Idempotent: run it again and the same documents are written again."""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import datetime

from libs.common.alertstore.model import AlertQuery, IndexOutcome
from libs.common.alertstore.opensearch import OpenSearchAlertStore
from libs.common.alertstore.postgres import PostgresAlertStore
from libs.common.alertstore.protocol import AlertIndex
from libs.common.db.engine import create_engine, create_session_factory
from libs.common.settings import CommonSettings

PAGE_SIZE = 500


async def reindex(
    source: PostgresAlertStore, target: AlertIndex, tenant_id: str, query: AlertQuery
) -> IndexOutcome:
    """Every alert of the tenant matching `query` that may be found (not of a deleted
    case), with its payload, newest first."""
    outcome = IndexOutcome()
    cursor: str | None = None
    while True:
        page = await source.search(tenant_id, query, cursor=cursor, limit=PAGE_SIZE, payload=True)
        outcome.merge(await target.index(page.items))
        if page.next_cursor is None:
            return outcome
        cursor = page.next_cursor


async def run(args: argparse.Namespace) -> dict[str, object]:
    settings = CommonSettings()
    engine = create_engine(settings.database)
    target = OpenSearchAlertStore(settings.alert_store.opensearch)
    try:
        source = PostgresAlertStore(create_session_factory(engine))
        outcome = await reindex(source, target, args.tenant, AlertQuery(args.start, args.end))
    finally:
        await target.close()
        await engine.dispose()
    return {
        "tenant": args.tenant,
        "indexed": len(outcome.indexed),
        "failed": [vars(failure) for failure in outcome.failed[:100]],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tenant", required=True)
    parser.add_argument("--from", dest="start", type=datetime.fromisoformat)
    parser.add_argument("--to", dest="end", type=datetime.fromisoformat)
    args = parser.parse_args()
    for moment in (args.start, args.end):
        if moment is not None and moment.tzinfo is None:
            parser.error("--from and --to need a time zone, e.g. 2026-11-01T00:00:00+00:00")
    report = asyncio.run(run(args))
    print(json.dumps(report, indent=2, default=str))
    if report["failed"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
