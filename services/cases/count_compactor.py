"""Folds the case-count rows the case triggers append (libs/common/casestore/counts.py)
every few seconds, so the list's counts stay a read of a few rows per group."""

from __future__ import annotations

import asyncio

from libs.common.background import BackgroundLoop
from libs.common.casestore import counts
from libs.common.db.engine import SessionFactory, transaction
from libs.common.logging import get_logger
from services.cases.settings import CountCompactionSettings

log = get_logger(__name__)


class CountCompactor:
    def __init__(self, sessions: SessionFactory, settings: CountCompactionSettings) -> None:
        self._sessions = sessions
        self._settings = settings
        self._loop = BackgroundLoop("case-count-compaction", self.run)

    async def compact_once(self) -> int:
        async with transaction(self._sessions) as session:
            folded = await counts.compact(session)
        if folded:
            log.debug("case_counts.compacted", rows=folded)
        return folded

    async def run(self) -> None:
        while True:
            try:
                await self.compact_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                # Postgres away: counts stay right (only less compact); try again later.
                log.exception("case_counts.compaction_failed")
            await asyncio.sleep(self._settings.interval_seconds)

    def start(self) -> None:
        if self._settings.enabled:
            self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
