from __future__ import annotations

import httpx
from faststream import FastStream

from libs.common.case_events import subscribe_case_events
from libs.common.db.engine import create_engine, create_session_factory
from libs.common.kafka import create_broker, ensure_topics
from services.executor.cases_client import CasesApiClient
from services.executor.playbooks import BUILT_IN_PLAYBOOKS
from services.executor.service import PlaybookRunner
from services.executor.settings import ExecutorSettings


def create_app(settings: ExecutorSettings) -> FastStream:
    section = settings.executor
    broker = create_broker(settings.kafka, client_id="executor")
    engine = create_engine(settings.database)
    http = httpx.AsyncClient(timeout=section.timeout_seconds, follow_redirects=False)
    cases = CasesApiClient(section.cases_api_url, section.cases_api_key.get_secret_value(), http)
    runner = PlaybookRunner(BUILT_IN_PLAYBOOKS, create_session_factory(engine), cases, section)
    subscribe_case_events(broker, settings.kafka, section.consumer_group, runner.on_event)
    app = FastStream(broker, logger=None)

    @app.on_startup
    async def prepare() -> None:
        await ensure_topics(settings.kafka)

    @app.after_shutdown
    async def close() -> None:
        await http.aclose()
        await engine.dispose()

    return app
