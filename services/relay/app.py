"""The outbox relay as a process of its own: publishes what every service committed to
the outbox (case events, the alert topics) to Kafka (libs/common/outbox.py).

Alerting relays in its own process unless told not to (`alerting.run_outbox_relay`);
under load that was an eighth of its CPU, on the core that decides cases. The embedded
stack and compose run this process instead and turn alerting's relay off. Any number of
relays may run: one at a time leads (a PostgreSQL advisory lock), the others wait."""

from __future__ import annotations

import asyncio
import signal

from libs.common.db.engine import create_engine, create_session_factory
from libs.common.logging import get_logger
from libs.common.outbox import OutboxRelay
from libs.common.settings import CommonSettings

log = get_logger(__name__)


async def run(settings: CommonSettings, stop: asyncio.Event) -> None:
    """Relay until `stop` is set. A round cut short rolls back: its rows stay in the
    outbox and the next relay publishes them (at least once, as after a crash)."""
    engine = create_engine(settings.database)
    relay = OutboxRelay(create_session_factory(engine), settings.kafka, settings.outbox)
    relay.start()
    log.info("relay.started", enabled=settings.outbox.enabled)
    try:
        await stop.wait()
    finally:
        await relay.stop()
        await engine.dispose()
        log.info("relay.stopped")


async def serve(settings: CommonSettings) -> None:
    """`run` until SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await run(settings, stop)
