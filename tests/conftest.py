"""Real infrastructure for the suite: one Tansu broker, one freshly migrated Postgres
database and, for the tests that ask, one SeaweedFS S3 store per run. Tests isolate
themselves by tenant: every query and every object key starts with it."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from alembic import command
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from libs.common.db.engine import SessionFactory, create_engine, create_session_factory
from libs.common.kafka import ensure_topics
from libs.common.migrations import alembic_config
from libs.common.settings import DatabaseSettings, KafkaSettings, ObjectStoreSettings
from libs.embedded.postgres import create_database, database_name, drop_database, resolve_server
from libs.embedded.redis_check import redis_answers
from libs.embedded.seaweed import SeaweedPorts, SeaweedServer
from libs.embedded.tansu import TansuBroker
from tests.support.postgres import postgres_server_url

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
ATTACHMENTS_BUCKET = "casestream-attachments"
# S3's smallest multipart part: tests reach the multipart path with a few MiB.
TEST_PART_SIZE = 5 * 1024 * 1024


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("casestream")


@pytest.fixture(scope="session")
def tansu(run_dir: Path) -> Iterator[TansuBroker]:
    broker = TansuBroker(run_dir / "tansu")
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
async def kafka_settings(tansu: TansuBroker) -> KafkaSettings:
    settings = KafkaSettings(bootstrap_servers=tansu.bootstrap_servers, topic_partitions=3)
    await ensure_topics(settings)
    return settings


@pytest.fixture(scope="session")
def seaweed(run_dir: Path) -> Iterator[SeaweedServer]:
    """Started on first use only (~5-10 s); its data is thrown away with the run."""
    server = SeaweedServer(
        run_dir / "seaweed", ports=SeaweedPorts.free(), bucket=ATTACHMENTS_BUCKET
    )
    server.start()
    yield server
    server.stop(timeout=2)


@pytest.fixture(scope="session")
def object_store_settings(seaweed: SeaweedServer) -> ObjectStoreSettings:
    endpoint = seaweed.endpoint
    return ObjectStoreSettings(
        endpoint_url=endpoint.url,
        region=endpoint.region,
        bucket=seaweed.bucket,
        access_key_id=SecretStr(endpoint.access_key_id),
        secret_access_key=SecretStr(endpoint.secret_access_key),
        part_size_bytes=TEST_PART_SIZE,
    )


@pytest.fixture(scope="session")
async def postgres_server(run_dir: Path) -> AsyncIterator[str]:
    url = postgres_server_url()
    server_url, embedded = await resolve_server(url, run_dir / "pg")
    yield server_url
    if embedded is not None:
        await asyncio.to_thread(embedded.stop)


async def migrated_database(server_url: str, prefix: str) -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    url = await create_database(server_url, name)
    # env.py runs its own event loop: keep it off this one.
    await asyncio.to_thread(command.upgrade, alembic_config(url), "head")
    return url


@pytest.fixture(scope="session")
async def database_url(postgres_server: str) -> AsyncIterator[str]:
    url = await migrated_database(postgres_server, "cs_test")
    yield url
    await drop_database(postgres_server, database_name(url))


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(DatabaseSettings(url=database_url))
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def sessions(engine: AsyncEngine) -> SessionFactory:
    return create_session_factory(engine)


@pytest.fixture(scope="session")
async def redis_url() -> str:
    url = os.environ.get("CASESTREAM_TEST_REDIS", "redis://127.0.0.1:6379/0")
    if not await redis_answers(url):
        pytest.fail(f"no Redis answers at {url}; start the machine's Redis (see ENVIRONMENT.md)")
    return url


@pytest.fixture
def tenant() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"shared test data not found at {SHARED_DATA}")
    return SHARED_DATA
