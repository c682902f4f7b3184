from __future__ import annotations

from faststream import FastStream

from libs.common.alertstore.factory import create_opensearch_store
from libs.common.alertstore.indexer import AlertIndexer
from libs.common.alertstore.postgres import PostgresAlertStore
from libs.common.casestore.numbers import SeparateCaseNumbers
from libs.common.casestore.store import CaseStore
from libs.common.db.engine import create_engine, create_session_factory
from libs.common.kafka import create_broker, ensure_topics
from libs.common.outbox import OutboxRelay
from libs.common.settings import AlertStoreKind
from services.alerting.correlation.service import correlation_engine
from services.alerting.handlers import DetectionBatches, DetectionsConsumer
from services.alerting.indexer_handlers import register_alert_indexer
from services.alerting.service import GroupingService
from services.alerting.settings import AlertingSettings


def create_app(settings: AlertingSettings) -> FastStream:
    broker = create_broker(settings.kafka, client_id="alerting")
    engine = create_engine(settings.database)
    sessions = create_session_factory(engine)
    relay = OutboxRelay(sessions, settings.kafka, settings.outbox)
    opensearch = settings.alert_store.kind is AlertStoreKind.OPENSEARCH
    grouping = GroupingService(
        CaseStore(
            source="casestream/alerting",
            publish_alerts_v1=settings.alert_topics.publish_v1,
            # Batches of several partitions open cases at once: numbers on the side.
            numbers=SeparateCaseNumbers(sessions),
        ),
        correlation=correlation_engine(settings.alerting.correlation),
        announce_changes=opensearch,
    )
    # Detections come through alerting's own partition workers (services.alerting.
    # partitions), not a FastStream subscriber: one batch in flight per partition.
    detections = DetectionsConsumer(
        settings.kafka, settings.alerting, DetectionBatches(broker, sessions, grouping, relay)
    )
    # Postgres stays the system of record; OpenSearch gets alerts after each commit,
    # through the outbox and Kafka (docs/alert-store.md).
    alert_index = create_opensearch_store(settings.alert_store) if opensearch else None
    if alert_index is not None:
        indexer = AlertIndexer(PostgresAlertStore(sessions), alert_index)
        register_alert_indexer(broker, settings.kafka, settings.alerting.alert_indexer, indexer)
    app = FastStream(broker, logger=None)

    @app.on_startup
    async def prepare() -> None:
        await ensure_topics(settings.kafka)

    @app.after_startup
    async def start_consuming() -> None:
        if settings.alerting.run_outbox_relay:
            relay.start()
        await detections.start()

    @app.on_shutdown
    async def stop_consuming() -> None:
        # The batches in hand finish and commit first; the broker (their dead letters)
        # closes after this.
        await detections.stop()
        await relay.stop()

    @app.after_shutdown
    async def close_database() -> None:
        if alert_index is not None:
            await alert_index.close()
        await engine.dispose()

    return app
