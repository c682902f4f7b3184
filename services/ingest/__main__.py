from __future__ import annotations

import uvicorn

from libs.common.logging import configure_logging
from services.ingest.app import create_app
from services.ingest.settings import IngestSettings


def main() -> None:
    settings = IngestSettings()
    configure_logging(settings.log, service="ingest")
    uvicorn.run(
        create_app(settings),
        host=settings.ingest.host,
        port=settings.ingest.port,
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
