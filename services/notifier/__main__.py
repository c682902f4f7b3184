from __future__ import annotations

import asyncio

from libs.common.logging import configure_logging
from services.notifier.app import create_app
from services.notifier.settings import NotifierSettings


def main() -> None:
    settings = NotifierSettings()
    configure_logging(settings.log, service="notifier")
    asyncio.run(create_app(settings).run())


if __name__ == "__main__":
    main()
