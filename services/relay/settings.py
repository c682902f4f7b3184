from __future__ import annotations

from libs.common.settings import CommonSettings


class RelaySettings(CommonSettings):
    """The relay needs what every service has: the database, Kafka, the outbox section."""
