"""`python -m libs.embedded` (what `make dev` runs): the whole stack, no containers."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from libs.embedded.process import EmbeddedStartError
from libs.embedded.stack import DevStack, StackError, StackOptions


def parse_options(argv: list[str]) -> StackOptions:
    defaults = StackOptions()
    parser = argparse.ArgumentParser(
        prog="python -m libs.embedded",
        description="Run Casestream on this machine: SeaweedFS, Tansu, Postgres, the five "
        "services and the outbox relay.",
    )
    parser.add_argument(
        "--durable",
        action="store_true",
        help="keep Kafka data: Tansu on S3 storage served by SeaweedFS in the state dir",
    )
    parser.add_argument(
        "--webhook",
        action="append",
        default=[],
        metavar="URL",
        help="a URL the notifier delivers signed case webhooks to (repeatable)",
    )
    parser.add_argument("--ingest-port", type=int, default=defaults.ingest_port)
    parser.add_argument("--cases-port", type=int, default=defaults.cases_port)
    parser.add_argument("--kafka-port", type=int, default=defaults.kafka_port)
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=defaults.state_dir,
        help="where logs, credentials, SeaweedFS and embedded Postgres data live",
    )
    args = parser.parse_args(argv)
    return StackOptions(
        state_dir=args.state_dir.resolve(),
        durable=args.durable,
        webhook_urls=args.webhook,
        ingest_port=args.ingest_port,
        cases_port=args.cases_port,
        kafka_port=args.kafka_port,
    )


def main(argv: list[str]) -> int:
    # SIGTERM during start-up would otherwise end the process without running the
    # stack's cleanup; as SystemExit it unwinds through it. (honcho installs its own
    # handler once the services run.)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    stack = DevStack(parse_options(argv), say=lambda line: print(line, flush=True))
    try:
        return stack.run()
    except KeyboardInterrupt:
        return 130
    except (EmbeddedStartError, StackError) as error:
        print(f"dev stack failed to start: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
