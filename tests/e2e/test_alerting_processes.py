"""One `python -m services.alerting` with `alerting.processes = 2`: two consumer processes
under one supervising parent. Both take partitions and store a backlog once; SIGTERM to
the parent stops all of them cleanly; a process that dies takes the instance down with
it, leaving nothing running."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import text

from libs.common.db.engine import SessionFactory
from libs.common.settings import KafkaSettings
from libs.embedded.pipeline import ServiceProcesses
from libs.embedded.process import child_pids
from libs.embedded.tansu import TansuBroker
from services.ingest.publisher import kafka_headers
from tests.support.detections import detection
from tests.support.services import service_processes

HOSTS, PER_HOST = 12, 25


@pytest.fixture
async def instance(
    tansu: TansuBroker,
    kafka_settings: KafkaSettings,  # detections.v1 with its 3 partitions
    database_url: str,
    tenant: str,
    run_dir: Path,
) -> AsyncIterator[ServiceProcesses]:
    services = service_processes(
        ("alerting",),
        tansu,
        database_url,
        tenant,
        run_dir / f"alerting-processes-{tenant}",
        {
            "CASESTREAM__ALERTING__PROCESSES": "2",
            "CASESTREAM__ALERTING__CONSUMER_GROUP": f"alerting-{tenant}",
            "CASESTREAM__ALERTING__BATCH_MAX_RECORDS": "50",
            "CASESTREAM__LOG__JSON_OUTPUT": "true",
        },
    )
    await asyncio.to_thread(services.start)
    try:
        yield services
    finally:
        await asyncio.to_thread(services.stop)


def parent_pid(services: ServiceProcesses) -> int:
    pid = services.processes["alerting"].pid
    assert pid is not None
    return pid


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"  # a zombie has exited


async def wait_for(condition: object, seconds: float, failure: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(failure)
        await asyncio.sleep(0.2)


def events(services: ServiceProcesses, name: str) -> list[dict[str, Any]]:
    """The instance's log events of that name, parent's and processes' (JSON lines)."""
    log = services.config.log_dir / "alerting.log"
    lines = log.read_text().splitlines() if log.exists() else []
    return [event for line in lines if f'"{name}"' in line and (event := json.loads(line))]


def assignments(services: ServiceProcesses) -> dict[int, list[int]]:
    """Each process' latest partitions, from its `alerting.partitions_assigned` lines."""
    return {e["pid"]: e["partitions"] for e in events(services, "alerting.partitions_assigned")}


async def test_two_processes_share_the_partitions_and_store_a_backlog_once(
    instance: ServiceProcesses, tansu: TansuBroker, sessions: SessionFactory, tenant: str
) -> None:
    parent = parent_pid(instance)
    await wait_for(lambda: len(child_pids(parent)) == 2, 30, "the parent did not start two")
    processes = set(child_pids(parent))
    await wait_for(
        lambda: (
            set(assignments(instance)) == processes
            and sorted(p for ps in assignments(instance).values() for p in ps) == [0, 1, 2]
        ),
        60,
        f"the partitions were not shared: {assignments(instance)}\n{instance.log_tails()}",
    )
    assert all(assignments(instance).values())  # each process holds a partition

    backlog = [
        detection(tenant, f"d-{h}-{n}", host=f"host-{h}", minutes=n)
        for h in range(HOSTS)
        for n in range(PER_HOST)
    ]
    producer = AIOKafkaProducer(bootstrap_servers=tansu.bootstrap_servers, acks="all")
    await producer.start()
    try:
        for d in backlog + backlog[::4]:  # a quarter sent twice
            await producer.send(
                "detections.v1",
                d.model_dump_json().encode(),
                key=d.partition_key(),
                headers=kafka_headers(d),
            )
        await producer.flush()
    finally:
        await producer.stop()

    async def stored() -> int:
        async with sessions() as session:
            found = await session.scalar(
                text("SELECT count(*) FROM alerts WHERE tenant_id = :t"), {"t": tenant}
            )
        return int(found or 0)

    deadline = time.monotonic() + 60
    while (count := await stored()) < len(backlog):
        if time.monotonic() > deadline:
            pytest.fail(f"{count} of {len(backlog)} stored\n{instance.log_tails()}")
        await asyncio.sleep(0.3)
    await asyncio.sleep(1)  # time for a second copy, were one to be stored
    assert await stored() == len(backlog)

    await asyncio.to_thread(instance.stop)
    assert not any(alive(pid) for pid in processes)
    (stopped,) = events(instance, "alerting.processes_stopped")
    assert stopped["codes"] == [0, 0]  # both finished their batches and exited cleanly


async def test_a_process_that_dies_stops_the_instance(instance: ServiceProcesses) -> None:
    parent = parent_pid(instance)
    await wait_for(lambda: len(child_pids(parent)) == 2, 30, "the parent did not start two")
    killed, survivor = child_pids(parent)
    os.kill(killed, signal.SIGKILL)
    popen = instance.processes["alerting"]
    await wait_for(lambda: not popen.running, 40, "the parent outlived its process")
    assert not alive(survivor)
    (exited,) = events(instance, "alerting.process_exited")
    assert (exited["pid"], exited["code"]) == (killed, -signal.SIGKILL)
