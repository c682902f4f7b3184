"""The exit status of an alerting instance whose processes ended."""

from __future__ import annotations

import signal

from services.alerting.processes import exit_status


def test_a_process_killed_by_a_signal_exits_as_a_shell_reports_it() -> None:
    assert exit_status(-signal.SIGKILL) == 137
    assert exit_status(-signal.SIGTERM) == 143


def test_a_process_that_exited_keeps_its_code() -> None:
    assert exit_status(0) == 0
    assert exit_status(3) == 3
