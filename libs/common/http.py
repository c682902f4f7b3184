"""Shared HTTP pieces: API-key authentication and the single DomainError renderer."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.telemetry import TelemetryConfig
from sqlalchemy.exc import DBAPIError

from libs.common.apikeys.store import KeyResolver
from libs.common.errors import DomainError, Unauthorized
from libs.common.settings import ApiCredential, HttpServerSettings


@dataclass(frozen=True)
class Principal:
    tenant_id: str
    name: str
    # The source an issued key belongs to (e.g. "splunk-prod"); None for configured keys.
    source: str | None = None


class ApiKeyAuthenticator:
    """Resolves `Authorization: Bearer <key>` or `X-API-Key: <key>` to a principal.

    Keys are kept only as SHA-256 digests after start-up, and looked up by digest, so the
    comparison never runs over the secret byte by byte."""

    def __init__(self, credentials: list[ApiCredential], issued: KeyResolver | None = None) -> None:
        self._issued = issued
        self._by_digest = {
            _digest(credential.key.get_secret_value()): Principal(
                credential.tenant, credential.name
            )
            for credential in credentials
            if credential.key.get_secret_value()
        }

    async def authenticate(self, request: Request) -> Principal:
        key = request.headers.get("x-api-key")
        authorization = request.headers.get("authorization", "")
        scheme, _, token = authorization.partition(" ")
        if key is None and scheme.lower() == "bearer" and token:
            key = token.strip()
        if not key:
            raise Unauthorized("missing API key: send 'Authorization: Bearer <key>'")
        principal = self._by_digest.get(_digest(key))
        if principal is not None:
            return principal
        resolved = await self._issued.resolve(key) if self._issued is not None else None
        if resolved is None:
            raise Unauthorized("invalid API key")
        return Principal(resolved.tenant_id, f"key:{resolved.prefix}", resolved.source)


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def _render_domain_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, DomainError)
    headers = dict(error.headers)
    if error.status_code == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(error.to_body(), status_code=error.status_code, headers=headers)


async def _render_validation_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    problems = [
        {"location": ".".join(str(part) for part in item["loc"]), "problem": item["msg"]}
        for item in error.errors()
    ]
    body = {
        "code": "invalid_request",
        "message": "request validation failed",
        "details": {"errors": problems},
    }
    return JSONResponse(body, status_code=422)


async def _render_database_error(_: Request, error: Exception) -> JSONResponse:
    """A value Postgres refuses to store (SQLSTATE class 22, "data exception": a NUL
    character in text, a number out of range) is the client's 422, naming the problem;
    anything else the database says stays a 500."""
    assert isinstance(error, DBAPIError)
    sqlstate = str(getattr(error.orig, "sqlstate", "") or "")
    if not sqlstate.startswith("22"):
        raise error
    problem = str(getattr(error.orig, "args", [""])[0] or "").splitlines()[0][:200]
    body = {
        "code": "invalid_value",
        "message": f"a value cannot be stored: {problem}",
        "details": {"sqlstate": sqlstate},
    }
    return JSONResponse(body, status_code=422)


def app_state(attribute: str) -> Callable[[Request], Awaitable[Any]]:
    """A dependency giving `request.app.state.<attribute>` (a service the app made at
    start): `Annotated[CaseService, Depends(app_state("case_service"))]`. Async, as every
    dependency should be: FastAPI runs a plain `def` one in its thread pool."""

    async def dependency(request: Request) -> Any:
        return getattr(request.app.state, attribute)

    dependency.__name__ = f"app_state_{attribute}"
    return dependency


def telemetry_config(settings: HttpServerSettings) -> TelemetryConfig:
    """FastAPI's native OpenTelemetry, on only when the service's settings ask for it."""
    enabled = settings.opentelemetry
    return {"tracing": enabled, "metrics": enabled, "logs": enabled}


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _render_domain_error)
    app.add_exception_handler(RequestValidationError, _render_validation_error)
    app.add_exception_handler(DBAPIError, _render_database_error)
