"""One alerting instance, several consumer processes (`alerting.processes`).

Everything alerting does for a batch runs on one Python thread, shared by every partition
the process holds, and a partition's batches run one after the other. On two cores the
drain of a backlog therefore stopped at ~1.4 cores busy, whatever the machine's speed
(docs/benchmarks.md, sessions 14 and 15). With `processes` above 1, `python -m
services.alerting` starts that many copies of itself, each a member of the instance's
consumer group with its own share of the partitions, as uvicorn's `--workers` does for
HTTP. Nothing about correctness changes: several alerting processes in one group are
what several instances already are (tests/e2e/test_two_alerting_processes.py).

The parent only supervises. On SIGTERM or SIGINT it sends SIGTERM to every process, which
finishes and commits the batches in hand; the parent then exits 0. A process that exits
on its own is a failure of the instance: the others are stopped and the parent exits
with an error, for the orchestrator to restart the whole instance."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from types import FrameType

from libs.common.logging import get_logger

log = get_logger(__name__)

# Set for the processes the parent starts, so each runs the consumer itself.
PROCESSES_ENV = "CASESTREAM__ALERTING__PROCESSES"
# How long a process may take to finish its batches once asked to stop.
STOP_WAIT_SECONDS = 30.0
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _stop_with_parent() -> None:
    """In the child, before it runs: SIGTERM when the parent dies, even by SIGKILL, so no
    consumer outlives its instance (Linux; elsewhere nothing)."""
    with contextlib.suppress(AttributeError, OSError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def exit_status(returncode: int) -> int:
    """A process' exit as a shell reports it: killed by signal N is 128 + N."""
    return 128 - returncode if returncode < 0 else returncode


class Supervisor:
    def __init__(self, count: int) -> None:
        self._count = count
        self._children: list[subprocess.Popen[bytes]] = []
        self._stopping = False

    def run(self) -> int:
        """Start the processes and wait for them; the instance's exit code."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_signal)
        environment = {**os.environ, PROCESSES_ENV: "1"}
        for _ in range(self._count):
            if self._stopping:
                break
            self._children.append(
                subprocess.Popen(
                    [sys.executable, "-m", "services.alerting"],
                    env=environment,
                    preexec_fn=_stop_with_parent,  # only a prctl: safe before exec
                )
            )
        log.info("alerting.processes_started", pids=[c.pid for c in self._children])
        failed = self._wait_for_first_exit()
        self._stop_all()
        if failed is not None:
            log.error("alerting.process_exited", pid=failed.pid, code=failed.returncode)
            return exit_status(failed.returncode) or 1  # even a clean exit is a failure here
        codes = [c.returncode for c in self._children]
        log.info("alerting.processes_stopped", codes=codes)
        return next((exit_status(code) for code in codes if code), 0)

    def _on_signal(self, _signum: int, _frame: FrameType | None) -> None:
        self._stopping = True  # the wait below ends and every process is asked to stop

    def _wait_for_first_exit(self) -> subprocess.Popen[bytes] | None:
        """The process that exited before the instance was asked to stop, if any."""
        while not self._stopping:
            for child in self._children:
                if child.poll() is not None:
                    return None if self._stopping else child
            time.sleep(0.2)
        return None

    def _stop_all(self) -> None:
        for child in self._children:
            if child.poll() is None:
                child.terminate()
        deadline = time.monotonic() + STOP_WAIT_SECONDS
        for child in self._children:
            try:
                child.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("alerting.process_killed", pid=child.pid)
                child.kill()
                child.wait()
