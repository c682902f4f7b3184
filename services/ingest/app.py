from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from redis.asyncio import Redis

from libs.common.apikeys.store import KeyResolver
from libs.common.db.engine import create_engine, create_session_factory
from libs.common.http import ApiKeyAuthenticator, install_error_handlers, telemetry_config
from libs.common.kafka import create_broker, ensure_topics
from libs.common.ratelimit import DetectionRateLimiter
from services.ingest.admin_api import router as admin_router
from services.ingest.api import router
from services.ingest.duplicates import DuplicateWindow
from services.ingest.entity_rules import EntityExtractor
from services.ingest.handlers import register_raw_consumer
from services.ingest.publisher import DetectionPublisher
from services.ingest.raw import RawTopicIngest
from services.ingest.service import IngestService
from services.ingest.settings import IngestSettings
from services.ingest.signed_sources import SignedSourceVerifier


def create_app(settings: IngestSettings) -> FastAPI:
    broker = create_broker(settings.kafka, client_id="ingest")
    engine = create_engine(settings.database)
    sessions = create_session_factory(engine)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await ensure_topics(settings.kafka)
        # start() also starts the raw-topic subscriber when one is registered.
        await publisher.start()
        await broker.start()
        try:
            yield
        finally:
            await broker.stop()
            await publisher.stop()
            await engine.dispose()
            await redis.aclose()

    app = FastAPI(
        title="Casestream ingest",
        version="1",
        lifespan=lifespan,
        telemetry=telemetry_config(settings.ingest),
    )
    app.state.settings = settings
    app.state.sessions = sessions
    app.state.rate_limiter = DetectionRateLimiter(
        settings.redis.url.get_secret_value(),
        settings.ingest.rate_limit_per_key,
        settings.ingest.rate_limit_per_tenant,
    )
    resolver = KeyResolver(sessions, settings.ingest.issued_key_cache_seconds)
    app.state.authenticator = ApiKeyAuthenticator(settings.ingest.api_keys, resolver)
    app.state.admin_authenticator = ApiKeyAuthenticator(settings.ingest.admin_api_keys)
    app.state.signed_sources = SignedSourceVerifier(settings.ingest.signed_sources)
    publisher = DetectionPublisher(settings.kafka)
    extractor = EntityExtractor(settings.ingest.entity_rules)  # paths compiled once, here
    redis = Redis.from_url(settings.redis.url.get_secret_value())
    duplicates = DuplicateWindow(redis, settings.ingest.duplicate_window_seconds)
    app.state.ingest_service = IngestService(
        publisher, extractor, duplicates, settings.ingest.max_detection_bytes
    )
    if settings.ingest.consume_raw_topic:
        raw = RawTopicIngest(publisher, broker, extractor, settings.ingest.max_detection_bytes)
        register_raw_consumer(broker, settings.kafka, settings.ingest, raw)
    install_error_handlers(app)
    app.include_router(router)
    app.include_router(admin_router)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
