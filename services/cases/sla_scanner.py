"""The SLA scanner: a background task of the cases service that records `sla.pre_breach`
and `sla.breached` through the case store when cases near or pass their due times, and
closes resolved cases after the days their tenant's policy sets.

Only one instance scans at a time (a transaction-scoped advisory lock, as the outbox
relay does); the others find the lock taken and wait for the next tick. Finding the
cases is the one cross-tenant read here, by nature (a system clock, not a caller); each
write then goes through the case store with the case's own tenant."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.background import PeriodicLoop
from libs.common.casestore.store import CaseStore
from libs.common.db.engine import SessionFactory, transaction
from libs.common.logging import get_logger
from services.cases import repository
from services.cases.settings import SlaScannerSettings

log = get_logger(__name__)

SLA_SCANNER_LOCK_KEY = 0x736C615F7363616E  # "sla_scan"
ACTOR = "system:sla"
AUTO_CLOSE_ACTOR = "system:auto-close"
Clock = Callable[[], datetime]


def wall_clock() -> datetime:
    return datetime.now(UTC)


class SlaScanner:
    def __init__(
        self,
        sessions: SessionFactory,
        store: CaseStore,
        settings: SlaScannerSettings,
        *,
        clock: Clock = wall_clock,
        on_recorded: Callable[[], None] = lambda: None,
    ) -> None:
        self._sessions = sessions
        self._store = store
        self._settings = settings
        self._clock = clock
        self._on_recorded = on_recorded  # wakes the outbox relay after a commit
        # Postgres away or a bad row: nothing was committed; the next tick retries.
        self._loop = PeriodicLoop(
            "sla-scanner",
            self.scan_once,
            settings.interval_seconds,
            enabled=settings.enabled,
            failure_event="sla.scan_failed",
        )

    async def scan_once(self) -> int:
        """Record what is owed now (SLA notices, then auto-closes), up to one batch of
        cases each; returns how many case events were recorded."""
        now = self._clock()
        async with transaction(self._sessions) as session:
            leader = await session.scalar(
                text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": SLA_SCANNER_LOCK_KEY}
            )
            if not leader:
                return 0
            notices = await self._record_notices(session, now)
            closed = await self._auto_close(session, now)
        if notices or closed:
            log.info("sla.scan_recorded", notices=notices, auto_closed=closed)
            self._on_recorded()
        return notices + closed

    async def _record_notices(self, session: AsyncSession, now: datetime) -> int:
        ratio = self._settings.pre_breach_ratio
        due = await repository.cases_owing_sla_notices(
            session, now, ratio, self._settings.batch_size
        )
        recorded = 0
        for tenant_id, case_id in due:
            recorded += await self._store.record_sla_notices(
                session, tenant_id, case_id, now, ratio, ACTOR
            )
        return recorded

    async def _auto_close(self, session: AsyncSession, now: datetime) -> int:
        due = await repository.cases_due_for_auto_close(session, now, self._settings.batch_size)
        closed = 0
        for tenant_id, case_id, days in due:
            closed += await self._store.auto_close(
                session,
                tenant_id,
                case_id,
                resolved_before=now - timedelta(days=days),
                actor=AUTO_CLOSE_ACTOR,
                reason=f"closed automatically {days} days after resolution (tenant policy)",
            )
        return closed

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
