"""Casestream's servers on one machine with no containers: Tansu (Kafka protocol),
SeaweedFS (S3), Postgres (local or embedded) and a Redis probe.

Shared by the dev stack (`python -m libs.embedded`), the tests and the benchmarks.
Every process binds 127.0.0.1 only.
"""

from libs.embedded.ports import free_port, free_ports, port_is_free, port_or_free, tcp_accepts
from libs.embedded.postgres import (
    EmbeddedPostgres,
    asyncpg_dsn,
    create_database,
    database_name,
    drop_database,
    ensure_database,
    resolve_server,
    server_answers,
    sqlalchemy_url,
    with_database,
)
from libs.embedded.process import BackgroundProcess, EmbeddedStartError
from libs.embedded.redis_check import redis_answers
from libs.embedded.s3 import S3Endpoint
from libs.embedded.seaweed import SeaweedPorts, SeaweedServer
from libs.embedded.tansu import MEMORY_STORAGE, TansuBroker, broker_answers

__all__ = [
    "MEMORY_STORAGE",
    "BackgroundProcess",
    "EmbeddedPostgres",
    "EmbeddedStartError",
    "S3Endpoint",
    "SeaweedPorts",
    "SeaweedServer",
    "TansuBroker",
    "asyncpg_dsn",
    "broker_answers",
    "create_database",
    "database_name",
    "drop_database",
    "ensure_database",
    "free_port",
    "free_ports",
    "port_is_free",
    "port_or_free",
    "redis_answers",
    "resolve_server",
    "server_answers",
    "sqlalchemy_url",
    "tcp_accepts",
    "with_database",
]
