from __future__ import annotations

import uvicorn

from libs.common.heap import freeze_startup_heap
from libs.common.logging import configure_logging
from services.ingest.app import create_app
from services.ingest.settings import IngestSettings


def main() -> None:
    settings = IngestSettings()
    configure_logging(settings.log, service="ingest")
    app = create_app(settings)
    freeze_startup_heap()
    uvicorn.run(
        app,
        host=settings.ingest.host,
        port=settings.ingest.port,
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
