"""`python -m services.cases.backtest`: the backtest from a shell, for a tenant's stored
detections in an event-time range, under a candidate policy file (JSON) or the policy in
force. Prints the report as JSON. Read-only, like `POST /api/v1/grouping/backtest`."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
from datetime import datetime
from pathlib import Path

from libs.common.db.engine import create_engine, create_session_factory
from libs.common.policies.alerting import AlertingPolicy
from libs.common.policies.backtest import backtest
from libs.common.policies.repository import current_policy, stored_detections
from services.cases.backtest_api import MAX_DETECTIONS
from services.cases.settings import CasesSettings


async def run(args: argparse.Namespace) -> dict[str, object]:
    engine = create_engine(CasesSettings().database)
    try:
        async with create_session_factory(engine)() as session:
            stored = await current_policy(session, args.tenant)
            policy = stored.policy
            if args.policy:
                policy = AlertingPolicy.model_validate_json(args.policy.read_text())
            detections = await stored_detections(
                session, args.tenant, args.start, args.end, MAX_DETECTIONS + 1
            )
    finally:
        await engine.dispose()
    if len(detections) > MAX_DETECTIONS:
        raise SystemExit(f"more than {MAX_DETECTIONS} detections in the range; narrow it")
    report = backtest(detections, policy, args.cases)
    return {
        "tenant": args.tenant,
        "policy_version": None if args.policy else stored.version,
        "report": dataclasses.asdict(report),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tenant", required=True)
    parser.add_argument("--start", required=True, type=datetime.fromisoformat)
    parser.add_argument("--end", required=True, type=datetime.fromisoformat)
    parser.add_argument("--policy", type=Path, help="candidate policy, JSON")
    parser.add_argument("--cases", type=int, default=20, help="would-be cases to list")
    args = parser.parse_args()
    if args.start.tzinfo is None or args.end.tzinfo is None:
        parser.error("--start and --end need a time zone, e.g. 2026-11-01T00:00:00+00:00")
    print(json.dumps(asyncio.run(run(args)), indent=2, default=str))


if __name__ == "__main__":
    main()
