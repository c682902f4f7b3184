"""One background loop per process component (the outbox relay, the SLA scanner): started
once, cancelled and awaited on shutdown."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any

from libs.common.logging import get_logger

_log = get_logger(__name__)


class BackgroundLoop:
    def __init__(self, name: str, run: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self._name = name
        self._run = run
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self._name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


class PeriodicLoop:
    """Calls `tick` every `interval_seconds` in the background while enabled (the SLA
    scanner, the case-count compaction). A failing tick is logged as `failure_event` and
    tried again at the next one: what it writes is committed whole or not at all."""

    def __init__(
        self,
        name: str,
        tick: Callable[[], Coroutine[Any, Any, object]],
        interval_seconds: float,
        *,
        enabled: bool,
        failure_event: str,
    ) -> None:
        self._tick = tick
        self._interval = interval_seconds
        self._enabled = enabled
        self._failure_event = failure_event
        self._loop = BackgroundLoop(name, self._run)

    async def _run(self) -> None:
        while True:
            try:
                await self._tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                _log.exception(self._failure_event)
            await asyncio.sleep(self._interval)

    def start(self) -> None:
        if self._enabled:
            self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
