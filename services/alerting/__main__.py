from __future__ import annotations

import asyncio

from libs.common.heap import freeze_startup_heap
from libs.common.logging import configure_logging
from services.alerting.app import create_app
from services.alerting.processes import Supervisor
from services.alerting.settings import AlertingSettings


def main() -> None:
    settings = AlertingSettings()
    configure_logging(settings.log, service="alerting")
    if settings.alerting.processes > 1:
        raise SystemExit(Supervisor(settings.alerting.processes).run())
    app = create_app(settings)
    freeze_startup_heap()
    asyncio.run(app.run())


if __name__ == "__main__":
    main()
