from __future__ import annotations

import httpx
from faststream import FastStream

from libs.common.case_events import subscribe_case_events
from libs.common.db.engine import create_engine, create_session_factory
from libs.common.kafka import create_broker, ensure_topics
from services.notifier.service import WebhookNotifier
from services.notifier.settings import NotifierSettings


def create_app(settings: NotifierSettings) -> FastStream:
    broker = create_broker(settings.kafka, client_id="notifier")
    engine = create_engine(settings.database)
    # No redirects: a receiver could otherwise bounce us past the SSRF guard.
    http = httpx.AsyncClient(timeout=settings.notifier.timeout_seconds, follow_redirects=False)
    notifier = WebhookNotifier(settings.notifier, create_session_factory(engine), http)
    subscribe_case_events(broker, settings.kafka, settings.notifier.consumer_group, notifier.notify)
    app = FastStream(broker, logger=None)

    @app.on_startup
    async def prepare() -> None:
        await ensure_topics(settings.kafka)

    @app.after_shutdown
    async def close() -> None:
        await http.aclose()
        await engine.dispose()

    return app
