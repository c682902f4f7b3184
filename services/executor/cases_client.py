"""The executor acts on cases only through the cases REST API, with its service credential,
so every change it makes is authorized and audited under the playbook's name.

The API's base URL is operator configuration naming our own internal service (e.g.
http://cases:8002), not a target a tenant or playbook author chose, so it is exempt from
the SSRF guard. Playbook actions that call URLs from playbook content must go through
libs.common.ssrf."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential


class CasesApiError(Exception):
    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class TransientCasesApiError(CasesApiError):
    pass


class CasesApiClient:
    def __init__(
        self, base_url: str, api_key: str, http: httpx.AsyncClient, *, attempts: int = 4
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._headers = {"authorization": f"Bearer {api_key}"}
        self._http = http
        self._attempts = attempts

    async def add_note(self, case_id: uuid.UUID, body: str, idempotency_key: str) -> dict[str, Any]:
        url = f"{self._base_url}/api/v1/cases/{case_id}/notes"
        headers = {**self._headers, "idempotency-key": idempotency_key}
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._attempts),
            wait=wait_exponential(multiplier=0.2, max=5),
            retry=retry_if_exception_type(TransientCasesApiError),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                try:
                    response = await self._http.post(url, json={"body": body}, headers=headers)
                except httpx.TransportError as error:
                    raise TransientCasesApiError(type(error).__name__) from error
                if response.status_code >= 500 or response.status_code == 429:
                    raise TransientCasesApiError("cases API unavailable", response.status_code)
                if response.status_code not in (200, 201):
                    raise CasesApiError(
                        f"cases API refused the note: {response.text[:300]}", response.status_code
                    )
                note: dict[str, Any] = response.json()
                return note
        raise AssertionError("unreachable: tenacity re-raises the last error")
