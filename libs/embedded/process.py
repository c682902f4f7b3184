"""A child process whose output goes to a log file, stopped terminate-then-kill."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Self


class ManagedServer:
    """A server usable as a context manager: started on entering, stopped on leaving."""

    def start(self) -> object:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


class EmbeddedStartError(RuntimeError):
    """A server did not become ready; the message carries the tail of its log."""


class BackgroundProcess:
    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.env = dict(os.environ if env is None else env)
        self.cwd = cwd
        self._popen: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._log_offset = 0

    @property
    def pid(self) -> int | None:
        return None if self._popen is None else self._popen.pid

    @property
    def running(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    def start(self) -> None:
        if self.running:
            raise RuntimeError(f"{self.name} is already running (pid {self.pid})")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        # Append, so a restarted server keeps its earlier history; the tail shown in
        # errors starts at this run's offset.
        self._log = self.log_path.open("ab")
        self._log_offset = self._log.tell()
        # A new session keeps a terminal Ctrl-C away from the child: the owner stops
        # it in a defined order instead (services first, then the broker).
        self._popen = subprocess.Popen(  # noqa: S603 (argv built by this package, no shell)
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=self.env,
            cwd=self.cwd,
            start_new_session=True,
        )

    def stop(self, timeout: float = 10.0) -> None:
        popen, self._popen = self._popen, None
        if popen is not None and popen.poll() is None:
            popen.terminate()
            try:
                popen.wait(timeout)
            except subprocess.TimeoutExpired:
                popen.kill()
                popen.wait(timeout)
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, lines: int = 40) -> str:
        try:
            with self.log_path.open("rb") as log:
                log.seek(self._log_offset)
                text = log.read().decode("utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(self, is_ready: Callable[[], bool], timeout: float, what: str) -> None:
        """Poll `is_ready` until it holds; fail fast if the process exits meanwhile."""
        deadline = time.monotonic() + timeout
        while True:
            if self._popen is None or self._popen.poll() is not None:
                code = None if self._popen is None else self._popen.returncode
                raise EmbeddedStartError(self._failure(f"exited with code {code}", what))
            if is_ready():
                return
            if time.monotonic() >= deadline:
                raise EmbeddedStartError(self._failure(f"not ready after {timeout:.0f} s", what))
            time.sleep(0.1)

    def _failure(self, reason: str, what: str) -> str:
        return (
            f"{self.name} {reason} while waiting for {what}; "
            f"log {self.log_path}, last lines:\n{self.log_tail()}"
        )


def child_pids(pid: int) -> list[int]:
    """The live children of a process (Linux /proc): a supervising parent's processes."""
    found = []
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            stat = stat_file.read_text()
        except OSError:  # exited since the listing
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == pid and fields[0] != "Z":  # its parent's pid; not a zombie
            found.append(int(stat_file.parent.name))
    return sorted(found)
