"""The whole of Casestream on one machine with no containers (`make dev`).

Start order: SeaweedFS (S3 for attachments, and for Kafka's data in durable mode), Tansu,
Postgres (local or embedded), the Redis check, topics, migrations, then the five
services and the outbox relay under honcho. Stop order is the reverse, whatever failed
or however the run ended."""

from __future__ import annotations

import asyncio
import functools
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from honcho.manager import Manager
from honcho.process import Popen as HonchoPopen

from libs.common.kafka import ensure_topics
from libs.common.settings import CommonSettings, KafkaSettings
from libs.embedded.banner import redacted, stack_banner
from libs.embedded.dev_credentials import DevCredentials
from libs.embedded.pipeline import (
    REPO_ROOT,
    SERVICES,
    PipelineConfig,
    relay_environment,
    service_environment,
)
from libs.embedded.ports import port_is_free, port_or_free
from libs.embedded.postgres import EmbeddedPostgres, database_name, ensure_database, resolve_server
from libs.embedded.redis_check import redis_answers
from libs.embedded.seaweed import SeaweedPorts, SeaweedServer
from libs.embedded.tansu import MEMORY_STORAGE, TansuBroker

Say = Callable[[str], None]
TANSU_BUCKET = "tansu"


class StackError(RuntimeError):
    """A start-up step failed; the message says which and shows its output."""


@dataclass
class StackOptions:
    state_dir: Path = REPO_ROOT / ".casestream"
    durable: bool = False
    webhook_urls: list[str] = field(default_factory=list)
    ingest_port: int = 8001
    cases_port: int = 8002
    kafka_port: int = 9092


@dataclass
class _Ready:
    """What the infrastructure phase hands to the services phase."""

    database_url: str
    redis_note: str
    redis_url: str | None


class DevStack:
    def __init__(self, options: StackOptions, say: Say) -> None:
        self.options = options
        self.say = say
        self.log_dir = options.state_dir / "logs"
        self.seaweed: SeaweedServer | None = None
        self.tansu: TansuBroker | None = None
        self.postgres: EmbeddedPostgres | None = None

    def run(self) -> int:
        """Start everything, run the services until one exits or Ctrl-C; return their code."""
        try:
            ports = self._choose_ports()
            self._start_object_store()
            self._start_broker(ports["Kafka"])
            ready = asyncio.run(self._prepare_stores())
            self._migrate(ready.database_url)
            config, credentials = self._pipeline_config(ready, ports)
            self.say(self._banner(config, credentials, ready))
            return self._run_services(config)
        finally:
            self.stop()

    def stop(self) -> None:
        """Stop the infrastructure in reverse start order; safe to call twice."""
        for name, stop in (
            ("Tansu", self.tansu.stop if self.tansu else None),
            ("SeaweedFS (up to 30 s)", self.seaweed.stop if self.seaweed else None),
            ("embedded Postgres", self.postgres.stop if self.postgres else None),
        ):
            if stop is None:
                continue
            self.say(f"stopping {name}")
            try:
                stop()
            except Exception as error:  # teardown edge: still stop the others
                self.say(f"could not stop {name}: {error!r}")
        self.tansu = self.seaweed = self.postgres = None

    def _choose_ports(self) -> dict[str, int]:
        wanted = {
            "ingest": self.options.ingest_port,
            "cases": self.options.cases_port,
            "Kafka": self.options.kafka_port,
        }
        chosen: dict[str, int] = {}
        for what, port in wanted.items():
            chosen[what] = port_or_free(port, taken=chosen.values())
            if chosen[what] != port:
                self.say(f"port {port} is busy: {what} uses {chosen[what]} instead")
        return chosen

    def _start_object_store(self) -> None:
        """SeaweedFS with the attachments bucket, and Tansu's for durable mode. Its data
        stays in the state dir, as the database's does, so attachments outlive a restart."""
        ports = SeaweedPorts()
        if not all(port_is_free(port) for port in ports.all()):
            ports = SeaweedPorts.free()
            self.say(f"SeaweedFS default ports are busy: S3 on {ports.s3} instead")
        self.say("starting SeaweedFS (S3 for attachments; ~10 s)")
        self.seaweed = SeaweedServer(
            self.options.state_dir / "seaweed",
            ports=ports,
            bucket=TANSU_BUCKET,
            extra_buckets=[self.attachments_bucket],
        )
        self.seaweed.start()

    @property
    def attachments_bucket(self) -> str:
        return CommonSettings().object_store.bucket

    def _start_broker(self, kafka_port: int) -> None:
        storage, s3 = MEMORY_STORAGE, None
        if self.options.durable:
            assert self.seaweed is not None
            storage, s3 = f"s3://{TANSU_BUCKET}/", self.seaweed.endpoint
        self.tansu = TansuBroker(self.log_dir, port=kafka_port, storage=storage, s3=s3)
        self.tansu.start()
        self.say(f"Tansu answers on {self.tansu.bootstrap_servers} ({storage})")

    async def _prepare_stores(self) -> _Ready:
        assert self.tansu is not None
        settings = CommonSettings()
        wanted = settings.database.url.get_secret_value()
        server_url, self.postgres = await resolve_server(wanted, self.options.state_dir / "pg")
        if self.postgres is not None:
            self.say(f"no Postgres answers at {redacted(wanted)}: started embedded PostgreSQL")
        database_url = await ensure_database(server_url, database_name(wanted))

        redis_url = settings.redis.url.get_secret_value()
        redis_note = redacted(redis_url)
        answering: str | None = redis_url
        if not await redis_answers(redis_url):
            self.say(f"WARNING: no Redis answers at {redis_note}; running without it")
            redis_note, answering = f"not answering at {redis_note}", None

        kafka = KafkaSettings(bootstrap_servers=self.tansu.bootstrap_servers)
        await ensure_topics(kafka)
        return _Ready(database_url, redis_note, answering)

    def _migrate(self, database_url: str) -> None:
        self.say("migrating the database")
        env = {**os.environ, "CASESTREAM__DATABASE__URL": database_url}
        done = subprocess.run(
            [sys.executable, "-m", "libs.common.migrations", "upgrade", "head"],
            env=env,
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            output = (done.stdout + done.stderr).strip().splitlines()[-30:]
            raise StackError("migrations failed:\n" + "\n".join(output))

    def _pipeline_config(
        self, ready: _Ready, ports: dict[str, int]
    ) -> tuple[PipelineConfig, DevCredentials]:
        assert self.tansu is not None
        assert self.seaweed is not None
        credentials = DevCredentials.load_or_create(self._credentials_file)
        extra_env = {
            # Console logs unless the developer asked otherwise (honcho pipes the output).
            "CASESTREAM__LOG__JSON_OUTPUT": os.environ.get("CASESTREAM__LOG__JSON_OUTPUT", "false"),
            "PYTHONUNBUFFERED": "1",
        }
        if ready.redis_url is not None:
            extra_env["CASESTREAM__REDIS__URL"] = ready.redis_url
        config = PipelineConfig(
            database_url=ready.database_url,
            bootstrap_servers=self.tansu.bootstrap_servers,
            tenant=credentials.tenant,
            ingest_key=credentials.ingest_key,
            analyst_key=credentials.analyst_key,
            executor_key=credentials.executor_key,
            webhook_secret=credentials.webhook_secret,
            ingest_port=ports["ingest"],
            cases_port=ports["cases"],
            log_dir=self.log_dir,
            webhook_urls=list(self.options.webhook_urls),
            partitions=KafkaSettings().topic_partitions,
            extra_env=extra_env,
            admin_key=credentials.admin_key,
            object_store=self.seaweed.endpoint,
            attachments_bucket=self.attachments_bucket,
        )
        return config, credentials

    @property
    def _credentials_file(self) -> Path:
        return self.options.state_dir / "dev-credentials.json"

    def _banner(self, config: PipelineConfig, credentials: DevCredentials, ready: _Ready) -> str:
        assert self.tansu is not None
        assert self.seaweed is not None
        return stack_banner(
            ingest_url=config.ingest_url,
            cases_url=config.cases_url,
            bootstrap_servers=self.tansu.bootstrap_servers,
            kafka_storage=(
                "durable on SeaweedFS S3"
                if self.options.durable
                else "in memory: emptied at every start"
            ),
            database_url=ready.database_url,
            redis_note=ready.redis_note,
            s3_note=f"{self.seaweed.endpoint.url}    SeaweedFS, attachments in bucket "
            f"{self.attachments_bucket!r}",
            webhook_urls=config.webhook_urls,
            credentials=credentials,
            credentials_file=str(self._credentials_file),
            log_dir=str(self.log_dir),
        )

    def _run_services(self, config: PipelineConfig) -> int:
        env = {**os.environ, **relay_environment(SERVICES), **service_environment(config)}
        manager = Manager()
        for name in SERVICES:
            process = manager.add_process(
                name, [sys.executable, "-m", f"services.{name}"], env=env, cwd=str(REPO_ROOT)
            )
            # honcho runs each command through a shell by default; an argv list needs
            # none, and a shell would re-parse nothing but could misread odd paths.
            process._child_ctor = functools.partial(HonchoPopen, shell=False)
        # Blocks until Ctrl-C (honcho then sends SIGTERM, SIGKILL after 5 s) or until
        # one service exits, which stops the others.
        manager.loop()
        return int(manager.returncode or 0)
