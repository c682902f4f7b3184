from __future__ import annotations

import asyncio

from libs.common.logging import configure_logging
from libs.common.settings import CommonSettings
from services.relay.app import serve


def main() -> None:
    settings = CommonSettings()
    configure_logging(settings.log, service="relay")
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
