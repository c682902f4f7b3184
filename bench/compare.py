"""`make bench-compare ARGS="--baseline <revision>"`: one benchmark run in turns from a
baseline revision and from this working tree, with every pair's figures and the medians.

On these shared machines the same code ran 1,500/s in one minute and 2,355/s a few
minutes later (docs/benchmarks.md, session 7), so figures from separate sittings do not
compare; runs taken in turns do. The side that runs first alternates from pair to pair:
in session 9 the second run of a pair drained faster in 5 of 6 pairs (~6 %), whichever
code it ran, so an even number of pairs cancels that out. The
baseline is `git archive` of the revision in a temporary directory, run with this tree's
virtualenv (a baseline that needs other dependencies cannot be compared this way).
`--candidate <revision>` compares two revisions instead (also `git archive`), so the
working tree can change while they run. Arguments after `--` go to the benchmark on
both sides, e.g. `python -m bench.compare --baseline main~3 --pairs 4 -- --paced-count
1500`."""

from __future__ import annotations

import argparse
import io
import json
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ("alerting", "alerting_stages", "ingest", "pipeline")
Figures = dict[str, Any]


def extract_revision(revision: str, into: Path) -> None:
    git = shutil.which("git")
    if git is None:
        raise SystemExit("bench.compare needs git on the PATH")
    archive = subprocess.run(  # noqa: S603 (argv list, no shell; the revision is the caller's)
        [git, "-C", str(ROOT), "archive", "--format=tar", revision],
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")


def run_once(tree: Path, benchmark: str, extra: list[str], out: Path) -> Figures:
    """One run of `bench.<benchmark>` from `tree`; the figures it wrote to `out`."""
    subprocess.run(  # noqa: S603 (this interpreter, a benchmark of BENCHMARKS, no shell)
        [sys.executable, "-m", f"bench.{benchmark}", "--out", str(out), *extra],
        cwd=tree,
        check=True,
    )
    (written,) = sorted(out.glob("*.json"))
    figures: Figures = json.loads(written.read_text())
    return figures


def run_order(pair: int) -> tuple[str, str]:
    """Which side runs first in a pair (counted from 1): the baseline in odd pairs."""
    return ("baseline", "this") if pair % 2 else ("this", "baseline")


def comparison(baseline: list[Figures], current: list[Figures]) -> list[list[str]]:
    """Rows of the table: each numeric figure both sides have, its value per pair (baseline
    → this tree), the medians and their ratio."""
    names = [
        name
        for name, value in current[0].items()
        if isinstance(value, int | float)
        and not isinstance(value, bool)
        and all(isinstance(run.get(name), int | float) for run in [*baseline, *current])
    ]
    rows = [["figure", *(f"pair {n}" for n in range(1, len(current) + 1)), "median", "ratio"]]
    for name in names:
        old = [float(run[name]) for run in baseline]
        new = [float(run[name]) for run in current]
        old_median, new_median = statistics.median(old), statistics.median(new)
        ratio = f"{new_median / old_median:.2f}" if old_median else "-"
        pairs = [f"{_number(a)} → {_number(b)}" for a, b in zip(old, new, strict=True)]
        rows.append(
            [name, *pairs, f"{_number(old_median)} → {_number(new_median)}", ratio],
        )
    return rows


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def print_table(rows: list[list[str]]) -> None:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--baseline", required=True, help="a git revision of this repository")
    parser.add_argument(
        "--candidate", help="a git revision to compare instead of this working tree"
    )
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--benchmark", choices=BENCHMARKS, default="alerting")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("extra", nargs=argparse.REMAINDER, help="after --: the benchmark's")
    args = parser.parse_args()
    extra = ["--data", str(args.data.resolve()), *[a for a in args.extra if a != "--"]]
    with tempfile.TemporaryDirectory(prefix="casestream-compare-") as scratch:
        work = Path(scratch)
        baseline_tree, candidate_tree = work / "baseline", ROOT
        extract_revision(args.baseline, baseline_tree)
        if args.candidate:
            candidate_tree = work / "candidate"
            extract_revision(args.candidate, candidate_tree)
        baseline: list[Figures] = []
        current: list[Figures] = []
        sides = {"baseline": (baseline_tree, baseline), "this": (candidate_tree, current)}
        for pair in range(1, args.pairs + 1):
            for side in run_order(pair):
                tree, runs = sides[side]
                print(f"pair {pair}: {side}", flush=True)
                runs.append(run_once(tree, args.benchmark, extra, work / f"{side}-{pair}"))
    candidate = args.candidate or "this tree"
    print(f"\n{args.benchmark}: {args.baseline} → {candidate}, {args.pairs} pairs in turns")
    print_table(comparison(baseline, current))


if __name__ == "__main__":
    main()
