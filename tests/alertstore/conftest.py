"""Both alert stores behind one fixture. The OpenSearch one runs against a real
OpenSearch: the server at CASESTREAM_TEST_OPENSEARCH_URL when set, else one started by
testcontainers; with neither a URL nor a Docker engine, its tests are skipped and the
reason is printed in pytest's summary (-ra)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from libs.common.alertstore.indexer import AlertIndexer
from libs.common.alertstore.opensearch import OpenSearchAlertStore
from libs.common.alertstore.postgres import PostgresAlertStore
from libs.common.db.engine import SessionFactory
from libs.common.settings import OpenSearchSettings
from tests.alertstore.support import Harness
from tests.support.docker_engine import docker_engine_problem

# The image compose.yaml runs (tests/alertstore/test_opensearch_layout.py keeps them equal).
OPENSEARCH_IMAGE = "opensearchproject/opensearch:2.19.1"


@pytest.fixture(scope="session")
def opensearch_url() -> Iterator[str]:
    configured = os.environ.get("CASESTREAM_TEST_OPENSEARCH_URL")
    if configured:
        yield configured
        return
    problem = docker_engine_problem()
    if problem is not None:
        pytest.skip(f"OpenSearch alert store tests need a Docker engine: {problem}")
    from testcontainers.community.opensearch import OpenSearchContainer

    container = (
        OpenSearchContainer(OPENSEARCH_IMAGE, initial_admin_password="Casestream-Test-9!")
        .with_env("DISABLE_INSTALL_DEMO_CONFIG", "true")
        .with_env("OPENSEARCH_JAVA_OPTS", "-Xms512m -Xmx512m")
    )
    with container:
        config = container.get_config()
        yield f"http://{config['host']}:{config['port']}"


@pytest.fixture(params=["postgres", "opensearch"])
async def harness(
    request: pytest.FixtureRequest, sessions: SessionFactory
) -> AsyncIterator[Harness]:
    postgres = PostgresAlertStore(sessions)
    if request.param == "postgres":
        yield Harness("postgres", postgres, sessions)
        return
    url: str = request.getfixturevalue("opensearch_url")
    settings = OpenSearchSettings(
        hosts=[url], index_prefix=f"cs-test-{uuid.uuid4().hex[:8]}", number_of_replicas=0
    )
    store = OpenSearchAlertStore(settings)
    try:
        yield Harness("opensearch", store, sessions, AlertIndexer(postgres, store), store)
    finally:
        await store.client.indices.delete(index=f"{settings.index_prefix}-alerts-*")
        await store.client.indices.delete_index_template(name=f"{settings.index_prefix}-alerts")
        await store.close()
