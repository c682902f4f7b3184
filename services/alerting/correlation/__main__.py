"""`python -m services.alerting.correlation check FILE...`: validate rule files before
deploying them; prints each file's rules, or its problems, and exits 1 on any problem."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from services.alerting.correlation.loading import InvalidCorrelationRules, parse_rule_set


def check(paths: list[Path]) -> int:
    failed = 0
    for path in paths:
        try:
            rules = parse_rule_set(path.read_text(encoding="utf-8"), str(path)).rules
        except (InvalidCorrelationRules, OSError) as error:
            print(getattr(error, "message", str(error)), file=sys.stderr)
            failed += 1
            continue
        listed = ", ".join(f"{r.id} ({r.type})" for r in rules) or "no rules"
        print(f"{path}: {listed}")
    return 1 if failed else 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.alerting.correlation")
    commands = parser.add_subparsers(dest="command", required=True)
    checker = commands.add_parser("check", help="validate correlation rule files")
    checker.add_argument("files", nargs="+", type=Path)
    options = parser.parse_args(argv)
    return check(options.files)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
