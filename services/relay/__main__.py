from __future__ import annotations

import asyncio

from libs.common.heap import freeze_startup_heap
from libs.common.logging import configure_logging
from services.relay.app import serve
from services.relay.settings import RelaySettings


def main() -> None:
    settings = RelaySettings()
    configure_logging(settings.log, service="relay")
    freeze_startup_heap()
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
