"""What every benchmark runs on: a fresh Tansu, a migrated throwaway database on the
local Postgres (or an embedded one), and the registered topics. All removed afterwards."""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from alembic import command

from libs.common.kafka import ensure_topics
from libs.common.migrations import alembic_config
from libs.common.settings import KafkaSettings
from libs.embedded.postgres import create_database, drop_database, resolve_server
from libs.embedded.tansu import TansuBroker

ROOT = Path(__file__).resolve().parents[1]


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """Where the corpus and the Postgres server are, for every benchmark."""
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument(
        "--postgres", default="postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    )
    parser.add_argument("--limit", type=int, default=0, help="use only the first N detections")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument(
        "--keep-database",
        action="store_true",
        help="leave the run's database in place (its name is printed) to look into it",
    )


@dataclass(frozen=True)
class BenchInfrastructure:
    workdir: Path
    broker: TansuBroker
    database_url: str


@asynccontextmanager
async def bench_infrastructure(
    name: str, postgres: str, partitions: int, keep_database: bool = False
) -> AsyncIterator[BenchInfrastructure]:
    workdir = Path(tempfile.mkdtemp(prefix=f"casestream-{name}-"))
    broker = TansuBroker(workdir / "tansu")
    broker.start()
    server_url, embedded = await resolve_server(postgres, workdir / "pg")
    database = f"cs_bench_{uuid.uuid4().hex[:8]}"
    try:
        database_url = await create_database(server_url, database)
        await asyncio.to_thread(command.upgrade, alembic_config(database_url), "head")
        await ensure_topics(
            KafkaSettings(bootstrap_servers=broker.bootstrap_servers, topic_partitions=partitions)
        )
        yield BenchInfrastructure(workdir, broker, database_url)
    except BaseException:
        # The services' and the broker's logs stay for whoever looks into the failure.
        print(f"logs kept in {workdir}", flush=True)
        raise
    finally:
        broker.stop()
        if keep_database:
            print(f"database kept: {database}", flush=True)
        else:
            await drop_database(server_url, database)
        if embedded is not None:
            embedded.stop()
    shutil.rmtree(workdir, ignore_errors=True)
