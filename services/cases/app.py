from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from libs.common.alertstore.factory import create_alert_store
from libs.common.casestore.store import CaseStore
from libs.common.db.engine import create_engine, create_session_factory
from libs.common.errors import DomainError
from libs.common.http import ApiKeyAuthenticator, install_error_handlers, telemetry_config
from libs.common.kafka import ensure_topics
from libs.common.logging import get_logger
from libs.common.objectstore import ObjectStore
from libs.common.outbox import OutboxRelay
from services.cases.alerting_policy_api import router as alerting_policy_router
from services.cases.alerts_api import router as alerts_router
from services.cases.alerts_service import AlertSearchService
from services.cases.api import router
from services.cases.attachments_api import router as attachments_router
from services.cases.attachments_service import AttachmentService
from services.cases.backtest_api import router as backtest_router
from services.cases.bulk_api import router as bulk_router
from services.cases.bulk_runner import BulkJobRunner
from services.cases.bulk_service import BulkJobService
from services.cases.count_compactor import CountCompactor
from services.cases.create_batcher import CaseCreateBatcher, committed_creates
from services.cases.custom_fields_api import router as custom_fields_router
from services.cases.deletion_api import router as deletion_router
from services.cases.moves_api import router as moves_router
from services.cases.moves_service import CaseMoveService
from services.cases.policy_api import router as policy_router
from services.cases.reports_api import router as reports_router
from services.cases.retention_purger import RetentionPurger
from services.cases.service import CaseService
from services.cases.settings import CasesSettings
from services.cases.sla_scanner import SlaScanner
from services.cases.tasks_api import router as tasks_router
from services.cases.tasks_service import CaseTaskService
from services.cases.templates_api import router as templates_router
from services.cases.verdict_api import router as verdicts_router
from services.cases.verdict_service import VerdictService

log = get_logger(__name__)


def create_app(settings: CasesSettings) -> FastAPI:
    engine = create_engine(settings.database)
    sessions = create_session_factory(engine)
    relay = OutboxRelay(sessions, settings.kafka, settings.outbox)
    store = CaseStore(source="casestream/cases", publish_alerts_v1=settings.alert_topics.publish_v1)
    compactor = CountCompactor(sessions, settings.cases.count_compaction)
    scanner = SlaScanner(sessions, store, settings.cases.sla_scanner, on_recorded=relay.notify)
    objects = ObjectStore(settings.object_store)
    purger = RetentionPurger(
        sessions, store, settings.cases.retention_purger, on_purged=relay.notify, objects=objects
    )
    bulk_jobs = BulkJobService(store)
    verdicts = VerdictService(store)
    bulk_runner = BulkJobRunner(sessions, bulk_jobs, on_changed=relay.notify)
    alert_store = create_alert_store(settings.alert_store, sessions)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await ensure_topics(settings.kafka)
        relay.start()
        scanner.start()
        compactor.start()
        purger.start()
        await bulk_runner.resume_unfinished()
        await _prepare_bucket(objects)
        try:
            yield
        finally:
            await create_batcher.stop()
            await bulk_runner.stop()
            await compactor.stop()
            await purger.stop()
            await objects.close()  # after the purger, which deletes purged objects
            await scanner.stop()
            await relay.stop()
            await alert_store.close()
            await engine.dispose()

    app = FastAPI(
        title="Casestream cases",
        version="1",
        lifespan=lifespan,
        telemetry=telemetry_config(settings.cases),
    )
    app.state.settings = settings
    app.state.sessions = sessions
    app.state.relay = relay
    app.state.authenticator = ApiKeyAuthenticator(settings.cases.api_keys)
    app.state.admin_authenticator = ApiKeyAuthenticator(settings.cases.admin_api_keys)
    app.state.sla_scanner = scanner
    app.state.retention_purger = purger
    case_service = CaseService(store, settings.cases.listing.count_limit)
    create_batcher = CaseCreateBatcher(
        committed_creates(sessions, case_service),
        relay.notify,
        settings.cases.create_batch_max,
        settings.cases.create_batches_in_flight,
    )
    app.state.case_service = case_service
    app.state.create_batcher = create_batcher
    app.state.verdict_service = verdicts
    app.state.alert_search_service = AlertSearchService(alert_store)
    app.state.case_move_service = CaseMoveService(store)
    app.state.task_service = CaseTaskService(store)
    app.state.bulk_job_service = bulk_jobs
    app.state.bulk_job_runner = bulk_runner
    app.state.attachment_service = AttachmentService(store, objects, sessions, relay.notify)
    install_error_handlers(app)
    app.include_router(bulk_router)
    app.include_router(router)
    app.include_router(alerts_router)
    app.include_router(deletion_router)
    app.include_router(moves_router)
    app.include_router(tasks_router)
    app.include_router(policy_router)
    app.include_router(custom_fields_router)
    app.include_router(templates_router)
    app.include_router(alerting_policy_router)
    app.include_router(backtest_router)
    app.include_router(verdicts_router)
    app.include_router(reports_router)
    app.include_router(attachments_router)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


async def _prepare_bucket(objects: ObjectStore) -> None:
    """Create the attachments bucket if asked to; a store that is down must not keep the
    cases API from starting (attachments answer 503 until it is back)."""
    if not objects.settings.create_bucket:
        return
    try:
        await objects.ensure_bucket()
    except DomainError as error:
        log.warning("objectstore.bucket_not_ready", bucket=objects.bucket, code=error.code)
