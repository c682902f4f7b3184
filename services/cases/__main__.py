from __future__ import annotations

import uvicorn

from libs.common.logging import configure_logging
from services.cases.app import create_app
from services.cases.settings import CasesSettings


def main() -> None:
    settings = CasesSettings()
    configure_logging(settings.log, service="cases")
    uvicorn.run(
        create_app(settings),
        host=settings.cases.host,
        port=settings.cases.port,
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
