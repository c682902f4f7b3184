"""The dev stack (`python -m libs.embedded`): its pure parts, then one real run that is
started, used with the printed curl line and stopped with Ctrl-C (SIGINT)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from libs.embedded.__main__ import parse_options
from libs.embedded.dev_credentials import DevCredentials
from libs.embedded.ports import free_ports, port_or_free, tcp_accepts
from libs.embedded.postgres import drop_database, server_answers, with_database
from libs.embedded.stack import DevStack, StackOptions
from tests.support.postgres import postgres_server_url

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_credentials_are_kept_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "dev-credentials.json"
    first = DevCredentials.load_or_create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert DevCredentials.load_or_create(path) == first
    assert re.fullmatch(r"whsec_[A-Za-z0-9+/]{43}=", first.webhook_secret)
    assert len({first.ingest_key, first.analyst_key, first.executor_key}) == 3


def test_busy_ports_are_replaced_and_named(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        free_a, free_b = free_ports(2)
        said: list[str] = []
        options = StackOptions(
            state_dir=tmp_path, ingest_port=taken, cases_port=free_a, kafka_port=free_a
        )
        ports = DevStack(options, said.append)._choose_ports()
    assert ports["ingest"] != taken
    assert ports["cases"] == free_a
    assert ports["Kafka"] not in (free_a, ports["ingest"])
    assert any(str(taken) in line and "ingest" in line for line in said)
    assert port_or_free(free_b) == free_b


def test_options_collect_repeated_webhooks() -> None:
    options = parse_options(["--webhook", "http://a/x", "--webhook", "http://b/y", "--durable"])
    assert options.webhook_urls == ["http://a/x", "http://b/y"]
    assert options.durable
    assert (options.ingest_port, options.cases_port, options.kafka_port) == (8001, 8002, 9092)


@pytest.fixture
def stack_run(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    ingest, cases, kafka = free_ports(3)
    # A database of its own (the stack creates it), dropped afterwards: the developer's
    # `casestream` database on this machine is left alone.
    database = f"cs_devstack_{uuid.uuid4().hex[:8]}"
    server = postgres_server_url()
    database_env = {"CASESTREAM__DATABASE__URL": with_database(server, database)}
    argv = [
        sys.executable, "-m", "libs.embedded", "--state-dir", str(tmp_path),
        "--ingest-port", str(ingest), "--cases-port", str(cases), "--kafka-port", str(kafka),
    ]  # fmt: skip
    # Its own process group, so a SIGINT to the group reaches it as Ctrl-C would.
    process = subprocess.Popen(  # noqa: S603 (fixed argv)
        argv, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1", **database_env},
    )  # fmt: skip
    lines: list[str] = []
    yield process, lines
    if process.poll() is None:
        # Ctrl-C first, so the stack stops what it started (services and Tansu run in
        # their own sessions and would outlive a killed parent).
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    if asyncio.run(server_answers(server)):
        asyncio.run(drop_database(server, database))


def _read_until_started(process: subprocess.Popen[str], lines: list[str], count: int) -> None:
    """Collect output until honcho has reported `count` services started."""
    assert process.stdout is not None
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if sum("started (pid=" in seen for seen in lines) == count:
            return
    pytest.fail("the services did not all start:\n" + "\n".join(lines))


@pytest.mark.e2e
def test_dev_stack_serves_the_printed_curl_and_stops_on_ctrl_c(
    stack_run: tuple[subprocess.Popen[str], list[str]],
) -> None:
    process, lines = stack_run
    _read_until_started(process, lines, 5)
    post = next(line.strip() for line in lines if line.strip().startswith("curl -sS -X POST"))
    argv = shlex.split(post)
    url = argv[argv.index("POST") + 1]
    port = int(url.split(":")[2].split("/")[0])
    # Generous: on a loaded 2-core machine the services can take a minute to listen.
    deadline = time.monotonic() + 120
    while not tcp_accepts(port) and time.monotonic() < deadline:
        time.sleep(0.2)
    # Run the very line the banner printed: that is what a developer pastes.
    answer = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=True)  # noqa: S603
    assert json.loads(answer.stdout)["accepted"] == 1, answer.stdout
    # The printed admin key reaches the tenant's alerting policy on the cases API.
    admin_key = next(line.split()[-1] for line in lines if "admin key (" in line)
    cases_url = next(
        word for line in lines for word in line.split() if word.endswith("/api/v1/cases")
    )
    policy = urllib.request.Request(  # noqa: S310 - the loopback URL the banner printed
        cases_url.replace("/api/v1/cases", "/api/v1/admin/alerting-policy"),
        headers={"authorization": f"Bearer {admin_key}"},
    )
    with urllib.request.urlopen(policy, timeout=10) as response:  # noqa: S310 - loopback
        assert json.loads(response.read())["version"] == 0
    # The cases service has a working attachments bucket on the stack's SeaweedFS.
    analyst_key = next(line.split()[-1] for line in lines if "cases API key (analyst)" in line)
    auth = {"authorization": f"Bearer {analyst_key}"}
    with httpx.Client(headers=auth, timeout=60) as http:
        opened = http.post(cases_url, json={"title": "dev stack attachment"})
        assert opened.status_code == 201, opened.text
        attachments = f"{cases_url}/{opened.json()['id']}/attachments"
        added = http.post(attachments, files={"file": ("hello.txt", b"hello")})
        assert added.status_code == 201, added.text
        assert http.get(f"{attachments}/{added.json()['id']}/content").content == b"hello"

    pids = [int(m) for line in lines for m in re.findall(r"started \(pid=(\d+)\)", line)]
    assert len(pids) == 5
    os.killpg(process.pid, signal.SIGINT)
    assert process.wait(timeout=60) in (0, 130)
    assert not tcp_accepts(port)
    alive = [pid for pid in pids if Path(f"/proc/{pid}").exists()]
    assert not alive, f"service processes left running: {alive}"
