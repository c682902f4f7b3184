"""Process figures read from /proc (Linux): CPU seconds and peak resident memory."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from libs.embedded.process import child_pids

TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class ProcessFigures:
    cpu_seconds: float
    peak_rss_mib: float


def read_process(pid: int) -> ProcessFigures:
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    cpu = (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime
    peak_kib = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            peak_kib = int(line.split()[1])
    return ProcessFigures(cpu, peak_kib / 1024)


def read_process_tree(pid: int) -> ProcessFigures:
    """A process and its live children together (alerting with `alerting.processes`
    above 1: a parent that only supervises): CPU seconds summed, and peak RSS summed, so
    an upper bound of what they held at once."""
    figures = [read_process(pid)] + [read_process(child) for child in child_pids(pid)]
    return ProcessFigures(sum(f.cpu_seconds for f in figures), sum(f.peak_rss_mib for f in figures))


def postgres_cpu_seconds() -> float:
    """CPU seconds of every PostgreSQL server process on the machine, with what the
    postmaster's exited children used: the database's side of a benchmark, as long as
    nothing else uses that server meanwhile."""
    total = 0.0
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            stat = stat_file.read_text()
        except OSError:  # exited since the listing
            continue
        if stat[stat.index("(") + 1 : stat.rindex(")")] != "postgres":
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        total += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
    return total / TICKS


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def print_figures(figures: dict[str, object]) -> None:
    width = max(map(len, figures))
    for key, value in figures.items():
        print(f"{key:<{width}}  {value}")
