"""Folds the case-count rows the case triggers append (libs/common/casestore/counts.py)
every few seconds, so the list's counts stay a read of a few rows per group."""

from __future__ import annotations

from libs.common.background import PeriodicLoop
from libs.common.casestore import counts
from libs.common.db.engine import SessionFactory, transaction
from libs.common.logging import get_logger
from services.cases.settings import CountCompactionSettings

log = get_logger(__name__)


class CountCompactor:
    def __init__(self, sessions: SessionFactory, settings: CountCompactionSettings) -> None:
        self._sessions = sessions
        self._settings = settings
        # Postgres away: counts stay right (only less compact); tried again next tick.
        self._loop = PeriodicLoop(
            "case-count-compaction",
            self.compact_once,
            settings.interval_seconds,
            enabled=settings.enabled,
            failure_event="case_counts.compaction_failed",
        )

    async def compact_once(self) -> int:
        async with transaction(self._sessions) as session:
            folded = await counts.compact(session)
        if folded:
            log.debug("case_counts.compacted", rows=folded)
        return folded

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
