"""Webhook delivery: Standard Webhooks signatures, bounded retries, a delivery log.

A replayed event finds its delivered URLs in the log and skips them. A crash between a
delivery and its log row re-sends with the same `webhook-id`, which receivers use to
deduplicate (that is what the header is for)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from standardwebhooks.webhooks import Webhook
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from libs.common.contracts.cases import CaseEventV1
from libs.common.db.engine import SessionFactory, transaction
from libs.common.errors import OutboundUrlRefused
from libs.common.logging import get_logger
from libs.common.ssrf import check_outbound_url
from services.notifier import repository
from services.notifier.settings import NotifierSection

log = get_logger(__name__)


class RetryableDelivery(Exception):
    """A 5xx, 429 or transport failure: worth another attempt."""


@dataclass
class DeliveryResult:
    status: str
    attempts: int
    response_status: int | None = None
    error: str | None = None


def webhook_body(event: CaseEventV1) -> str:
    return json.dumps(
        {
            "type": event.type,
            "timestamp": event.occurred_at.isoformat(),
            "data": event.model_dump(mode="json"),
        },
        separators=(",", ":"),
    )


class WebhookNotifier:
    def __init__(
        self, settings: NotifierSection, sessions: SessionFactory, http: httpx.AsyncClient
    ):
        self._settings = settings
        self._sessions = sessions
        self._http = http
        secret = settings.webhook_secret.get_secret_value()
        self._signer = Webhook(secret) if secret else None

    def wants(self, event: CaseEventV1) -> bool:
        return (
            event.type in self._settings.event_types
            and bool(self._settings.webhook_urls)
            and self._settings.covers(event.tenant_id)
        )

    async def notify(self, event: CaseEventV1) -> None:
        if not self.wants(event):
            return
        async with transaction(self._sessions) as session:
            done = await repository.delivered_urls(session, event.tenant_id, event.event_id)
        for url in self._settings.webhook_urls:
            if url in done:
                continue
            result = await self._deliver(url, event)
            async with transaction(self._sessions) as session:
                await repository.record_delivery(
                    session,
                    tenant_id=event.tenant_id,
                    event_id=event.event_id,
                    event_type=event.type,
                    url=url,
                    status=result.status,
                    attempts=result.attempts,
                    response_status=result.response_status,
                    error=result.error,
                    delivered_at=datetime.now(UTC) if result.status == "delivered" else None,
                )
            log.info(
                "webhook.delivery",
                event_id=str(event.event_id),
                status=result.status,
                attempts=result.attempts,
                response_status=result.response_status,
            )

    async def _deliver(self, url: str, event: CaseEventV1) -> DeliveryResult:
        if self._signer is None:
            return DeliveryResult("failed", 0, error="no webhook secret configured")
        try:
            await check_outbound_url(url, allow_private=self._settings.allow_private_targets)
        except OutboundUrlRefused as refused:
            return DeliveryResult("refused", 0, error=refused.message)
        body = webhook_body(event)
        result = DeliveryResult("failed", 0)
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._settings.max_attempts),
            wait=wait_exponential(multiplier=0.2, max=5),
            retry=retry_if_exception_type(RetryableDelivery),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    result.attempts += 1
                    result.response_status = await self._post(url, event, body)
        except RetryableDelivery as error:
            result.error = str(error)
            return result
        if result.response_status is not None and 200 <= result.response_status < 300:
            result.status = "delivered"
        else:
            result.error = f"receiver answered {result.response_status}"
        return result

    async def _post(self, url: str, event: CaseEventV1, body: str) -> int:
        assert self._signer is not None
        message_id = str(event.event_id)
        now = datetime.now(UTC)
        headers = {
            "content-type": "application/json",
            "webhook-id": message_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": self._signer.sign(message_id, now, body),
        }
        try:
            response = await self._http.post(url, content=body, headers=headers)
        except httpx.TransportError as error:
            raise RetryableDelivery(f"{type(error).__name__}") from error
        if response.status_code >= 500 or response.status_code == 429:
            raise RetryableDelivery(f"receiver answered {response.status_code}")
        return response.status_code
