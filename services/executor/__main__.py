from __future__ import annotations

import asyncio

from libs.common.logging import configure_logging
from services.executor.app import create_app
from services.executor.settings import ExecutorSettings


def main() -> None:
    settings = ExecutorSettings()
    configure_logging(settings.log, service="executor")
    asyncio.run(create_app(settings).run())


if __name__ == "__main__":
    main()
