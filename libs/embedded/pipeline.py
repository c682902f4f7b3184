"""The Casestream services (the five and the outbox relay) as real processes, for
end-to-end tests and benchmarks.

`PipelineConfig` says where the infrastructure is and which credentials to issue;
`service_environment()` turns it into the CASESTREAM__ variables every service reads."""

from __future__ import annotations

import base64
import functools
import json
import os
import secrets
import sys
import time
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from libs.embedded.ports import free_port
from libs.embedded.process import BackgroundProcess, EmbeddedStartError
from libs.embedded.s3 import S3Endpoint

SERVICES = ("ingest", "alerting", "cases", "notifier", "executor", "relay")
# Importing a service takes a few seconds on an idle machine and, as seen on a 2-core
# machine shared with several test runs, 20-50 s under load: wait long enough for both.
START_TIMEOUT_SECONDS = 180.0
HTTP_SERVICES = ("ingest", "cases")
REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class PipelineConfig:
    database_url: str
    bootstrap_servers: str
    tenant: str
    ingest_key: str
    analyst_key: str
    executor_key: str
    webhook_secret: str
    ingest_port: int
    cases_port: int
    log_dir: Path
    webhook_urls: list[str] = field(default_factory=list)
    partitions: int = 3
    extra_env: dict[str, str] = field(default_factory=dict)
    # The tenant's admin on both admin APIs; none configured when empty.
    admin_key: str = ""
    # Where the cases service keeps attachments; the settings' default when None.
    object_store: S3Endpoint | None = None
    attachments_bucket: str = "casestream-attachments"

    @classmethod
    def with_fresh_credentials(
        cls,
        *,
        database_url: str,
        bootstrap_servers: str,
        tenant: str,
        log_dir: Path,
        webhook_urls: Iterable[str] = (),
        partitions: int = 3,
        extra_env: dict[str, str] | None = None,
    ) -> PipelineConfig:
        """New random keys, a new webhook secret and free ports: for tests and benchmarks."""
        return cls(
            database_url=database_url,
            bootstrap_servers=bootstrap_servers,
            tenant=tenant,
            ingest_key=secrets.token_urlsafe(24),
            analyst_key=secrets.token_urlsafe(24),
            executor_key=secrets.token_urlsafe(24),
            webhook_secret="whsec_" + base64.b64encode(os.urandom(32)).decode(),
            ingest_port=free_port(),
            cases_port=free_port(),
            log_dir=log_dir,
            webhook_urls=list(webhook_urls),
            partitions=partitions,
            extra_env=extra_env or {},
            admin_key=secrets.token_urlsafe(24),
        )

    @property
    def ingest_url(self) -> str:
        return f"http://127.0.0.1:{self.ingest_port}"

    @property
    def cases_url(self) -> str:
        return f"http://127.0.0.1:{self.cases_port}"


def service_environment(config: PipelineConfig) -> dict[str, str]:
    cases_keys = [
        {"key": config.analyst_key, "tenant": config.tenant, "name": "analyst"},
        {"key": config.executor_key, "tenant": config.tenant, "name": "executor-playbooks"},
    ]
    ingest_keys = [{"key": config.ingest_key, "tenant": config.tenant, "name": "siem"}]
    env = {
        "CASESTREAM__DATABASE__URL": config.database_url,
        "CASESTREAM__KAFKA__BOOTSTRAP_SERVERS": config.bootstrap_servers,
        "CASESTREAM__KAFKA__TOPIC_PARTITIONS": str(config.partitions),
        "CASESTREAM__LOG__JSON_OUTPUT": "true",
        "CASESTREAM__INGEST__PORT": str(config.ingest_port),
        "CASESTREAM__INGEST__API_KEYS": json.dumps(ingest_keys),
        "CASESTREAM__CASES__PORT": str(config.cases_port),
        "CASESTREAM__CASES__API_KEYS": json.dumps(cases_keys),
        "CASESTREAM__NOTIFIER__WEBHOOK_URLS": json.dumps(config.webhook_urls),
        "CASESTREAM__NOTIFIER__WEBHOOK_SECRET": config.webhook_secret,
        "CASESTREAM__NOTIFIER__ALLOW_PRIVATE_TARGETS": "true",
        "CASESTREAM__EXECUTOR__CASES_API_URL": config.cases_url,
        "CASESTREAM__EXECUTOR__CASES_API_KEY": config.executor_key,
        # The webhook URLs and the executor's credential belong to this one tenant.
        "CASESTREAM__NOTIFIER__TENANTS": json.dumps([config.tenant]),
        "CASESTREAM__EXECUTOR__TENANTS": json.dumps([config.tenant]),
    }
    if config.admin_key:
        admins = json.dumps([{"key": config.admin_key, "tenant": config.tenant, "name": "admin"}])
        env["CASESTREAM__CASES__ADMIN_API_KEYS"] = admins
        env["CASESTREAM__INGEST__ADMIN_API_KEYS"] = admins
    if config.object_store is not None:
        store = config.object_store
        env["CASESTREAM__OBJECT_STORE__ENDPOINT_URL"] = store.url
        env["CASESTREAM__OBJECT_STORE__REGION"] = store.region
        env["CASESTREAM__OBJECT_STORE__BUCKET"] = config.attachments_bucket
        env["CASESTREAM__OBJECT_STORE__ACCESS_KEY_ID"] = store.access_key_id
        env["CASESTREAM__OBJECT_STORE__SECRET_ACCESS_KEY"] = store.secret_access_key
    env.update(config.extra_env)
    return env


def relay_environment(names: Iterable[str]) -> dict[str, str]:
    """With the relay process among `names`, alerting leaves relaying to it."""
    return {"CASESTREAM__ALERTING__RUN_OUTBOX_RELAY": "false"} if "relay" in names else {}


class ServiceProcesses:
    """Starts `python -m services.<name>` for each service; stops them in reverse order."""

    def __init__(self, config: PipelineConfig, names: Iterable[str] = SERVICES) -> None:
        self.config = config
        names = tuple(names)
        base = {k: v for k, v in os.environ.items() if not k.startswith("CASESTREAM__")}
        env = {**base, **relay_environment(names), **service_environment(config)}
        self.processes = {
            name: BackgroundProcess(
                name,
                [sys.executable, "-m", f"services.{name}"],
                config.log_dir / f"{name}.log",
                env=env,
                cwd=REPO_ROOT,
            )
            for name in names
        }

    def start(self, timeout: float = START_TIMEOUT_SECONDS) -> None:
        """Start every service and wait until each HTTP one answers; on any failure the
        ones already started are stopped again, so a failed start leaves nothing behind."""
        try:
            self._start(timeout)
        except BaseException:
            self.stop()
            raise

    def _start(self, timeout: float) -> None:
        for process in self.processes.values():
            process.start()
        ports = {"ingest": self.config.ingest_port, "cases": self.config.cases_port}
        for name, process in self.processes.items():
            if name in HTTP_SERVICES:
                url = f"http://127.0.0.1:{ports[name]}/healthz"
                process.wait_ready(functools.partial(_http_ok, url), timeout, f"{name} /healthz")
        time.sleep(0.2)
        dead = [name for name, process in self.processes.items() if not process.running]
        if dead:
            logs = "\n".join(self.processes[n].log_tail() for n in dead)
            raise EmbeddedStartError(f"services exited at start: {dead}\n{logs}")

    def stop(self) -> None:
        for process in reversed(list(self.processes.values())):
            process.stop()

    def log_tails(self, lines: int = 30) -> str:
        return "\n".join(
            f"--- {name} ---\n{process.log_tail(lines)}" for name, process in self.processes.items()
        )

    def __enter__(self) -> ServiceProcesses:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - loopback only
            return bool(response.status == 200)
    except OSError:
        return False
