"""`python -m services.relay` as its own process, the only relay running: a case opened
in Postgres reaches `cases.events.v1`, its row leaves the outbox, and the process stops
cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from sqlalchemy import text

from libs.common.casestore.store import CaseStore, NewCase
from libs.common.contracts.detections import Severity
from libs.common.db.engine import SessionFactory, transaction
from libs.embedded.tansu import TansuBroker
from tests.support.kafka import header, read_until
from tests.support.services import service_processes


async def test_the_relay_process_publishes_what_is_committed_to_the_outbox(
    tansu: TansuBroker, database_url: str, sessions: SessionFactory, tenant: str, run_dir: Path
) -> None:
    relay = service_processes(("relay",), tansu, database_url, tenant, run_dir / f"relay-{tenant}")
    await asyncio.to_thread(relay.start)
    try:
        async with transaction(sessions) as session:
            case, _ = await CaseStore("test").open_case(
                session, NewCase(tenant_id=tenant, title="c", severity=Severity.LOW), [], "t"
            )
        (record,) = await read_until(
            tansu.bootstrap_servers,
            "cases.events.v1",
            lambda r: header(r, "ce_tenantid") == tenant.encode(),
            count=1,
        )
        assert record.key == str(case.id).encode()
        assert header(record, "ce_type") == b"casestream.case.opened.v1"
        # Deleted by the transaction that published it, which commits after the ack.
        deadline = time.monotonic() + 10
        while True:
            left = await unsent(sessions, tenant)
            if not left or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
        assert left == 0
    finally:
        await asyncio.to_thread(relay.stop)
    process = relay.processes["relay"]
    assert not process.running
    assert "relay.stopped" in (relay.config.log_dir / "relay.log").read_text()


async def unsent(sessions: SessionFactory, tenant: str) -> int:
    async with sessions() as session:
        count = await session.scalar(
            text("SELECT count(*) FROM outbox WHERE tenant_id = :t"), {"t": tenant}
        )
    return int(count or 0)
