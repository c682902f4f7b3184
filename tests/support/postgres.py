"""Where the suite looks for a Postgres server (override with CASESTREAM_TEST_POSTGRES)."""

from __future__ import annotations

import os

DEFAULT_SERVER = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


def postgres_server_url() -> str:
    return os.environ.get("CASESTREAM_TEST_POSTGRES", DEFAULT_SERVER)
