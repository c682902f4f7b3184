from __future__ import annotations

from faststream import FastStream

from libs.common.casestore.store import CaseStore
from libs.common.db.engine import create_engine, create_session_factory
from libs.common.kafka import create_broker, ensure_topics
from libs.common.outbox import OutboxRelay
from services.alerting.correlation.service import correlation_engine
from services.alerting.handlers import register_handlers
from services.alerting.service import GroupingService
from services.alerting.settings import AlertingSettings


def create_app(settings: AlertingSettings) -> FastStream:
    broker = create_broker(settings.kafka, client_id="alerting")
    engine = create_engine(settings.database)
    sessions = create_session_factory(engine)
    relay = OutboxRelay(sessions, broker, settings.outbox)
    grouping = GroupingService(
        CaseStore(source="casestream/alerting"),
        correlation=correlation_engine(settings.alerting.correlation),
    )
    register_handlers(broker, settings.alerting, sessions, grouping, relay)
    app = FastStream(broker, logger=None)

    @app.on_startup
    async def prepare() -> None:
        await ensure_topics(settings.kafka)

    @app.after_startup
    async def start_relay() -> None:
        relay.start()

    @app.on_shutdown
    async def stop_relay() -> None:
        await relay.stop()

    @app.after_shutdown
    async def close_database() -> None:
        await engine.dispose()

    return app
