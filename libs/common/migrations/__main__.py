"""CLI: `python -m libs.common.migrations upgrade head` (any alembic command works)."""

from __future__ import annotations

import sys

from alembic.config import CommandLine

from libs.common.migrations import alembic_config
from libs.common.settings import CommonSettings


def main(argv: list[str]) -> None:
    settings = CommonSettings()
    cli = CommandLine(prog="python -m libs.common.migrations")
    options = cli.parser.parse_args(argv)
    if not hasattr(options, "cmd"):
        cli.parser.error("too few arguments")
    cli.run_cmd(alembic_config(settings.database.url.get_secret_value()), options)


if __name__ == "__main__":
    main(sys.argv[1:])
