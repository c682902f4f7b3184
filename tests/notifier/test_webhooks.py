"""Webhook delivery to a real HTTP receiver: signed, retried, logged, never twice."""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import text
from standardwebhooks.webhooks import Webhook

from libs.common.contracts.cases import CaseAlertAttachedV1, CaseOpenedV1, CaseStatus
from libs.common.contracts.detections import Severity
from libs.common.db.engine import SessionFactory
from services.notifier.service import WebhookNotifier
from services.notifier.settings import NotifierSection
from tests.support.http_server import serve
from tests.support.webhook_receiver import WebhookReceiver

SECRET = "whsec_" + base64.b64encode(os.urandom(32)).decode()


def opened(tenant: str) -> CaseOpenedV1:
    return CaseOpenedV1(
        tenant_id=tenant,
        case_id=uuid.uuid4(),
        case_number=7,
        actor="system:alerting",
        occurred_at=datetime.now(UTC),
        title="Mimikatz on h1",
        severity=Severity.HIGH,
        status=CaseStatus.NEW,
        alert_ids=[uuid.uuid4()],
    )


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[WebhookReceiver, str]]:
    hooks = WebhookReceiver()
    async with serve(hooks.app()) as url:
        yield hooks, f"{url}/hook"


def notifier(sessions: SessionFactory, url: str, **overrides: object) -> WebhookNotifier:
    options: dict[str, object] = {"allow_private_targets": True, "max_attempts": 3, **overrides}
    settings = NotifierSection(webhook_urls=[url], webhook_secret=SecretStr(SECRET), **options)
    return WebhookNotifier(settings, sessions, httpx.AsyncClient(timeout=5))


async def deliveries(sessions: SessionFactory, tenant: str) -> list[tuple[str, int, int | None]]:
    async with sessions() as session:
        rows = await session.execute(
            text(
                "SELECT status, attempts, response_status FROM webhook_deliveries WHERE tenant_id = :t"
            ),
            {"t": tenant},
        )
    return [tuple(r) for r in rows.all()]


async def test_case_opened_is_delivered_signed(
    receiver: tuple[WebhookReceiver, str], sessions: SessionFactory, tenant: str
) -> None:
    hooks, url = receiver
    event = opened(tenant)
    await notifier(sessions, url).notify(event)
    (webhook,) = hooks.received
    payload = Webhook(SECRET).verify(webhook.body, webhook.headers)
    assert webhook.headers["webhook-id"] == str(event.event_id)
    assert payload["type"] == "case.opened"
    assert payload["data"]["case_id"] == str(event.case_id)
    assert await deliveries(sessions, tenant) == [("delivered", 1, 204)]


async def test_a_replayed_event_is_not_sent_again(
    receiver: tuple[WebhookReceiver, str], sessions: SessionFactory, tenant: str
) -> None:
    hooks, url = receiver
    event, sender = opened(tenant), notifier(sessions, url)
    await sender.notify(event)
    await sender.notify(event)
    assert len(hooks.received) == 1


async def test_server_errors_are_retried(
    receiver: tuple[WebhookReceiver, str], sessions: SessionFactory, tenant: str
) -> None:
    hooks, url = receiver
    hooks.script = [503, 500]
    await notifier(sessions, url).notify(opened(tenant))
    assert len(hooks.received) == 3
    assert len({w.headers["webhook-id"] for w in hooks.received}) == 1  # one message, retried
    assert await deliveries(sessions, tenant) == [("delivered", 3, 204)]


async def test_a_rejecting_receiver_is_logged_as_failed(
    receiver: tuple[WebhookReceiver, str], sessions: SessionFactory, tenant: str
) -> None:
    hooks, url = receiver
    hooks.script = [410]
    await notifier(sessions, url).notify(opened(tenant))
    assert len(hooks.received) == 1  # a 4xx is an answer, not worth a retry
    assert await deliveries(sessions, tenant) == [("failed", 1, 410)]


async def test_private_targets_are_refused_by_default(
    receiver: tuple[WebhookReceiver, str], sessions: SessionFactory, tenant: str
) -> None:
    hooks, url = receiver
    await notifier(sessions, url, allow_private_targets=False).notify(opened(tenant))
    assert hooks.received == []
    assert await deliveries(sessions, tenant) == [("refused", 0, None)]


async def test_other_event_types_are_not_sent(
    receiver: tuple[WebhookReceiver, str], sessions: SessionFactory, tenant: str
) -> None:
    hooks, url = receiver
    attached = CaseAlertAttachedV1(
        tenant_id=tenant,
        case_id=uuid.uuid4(),
        case_number=1,
        actor="a",
        occurred_at=datetime.now(UTC),
        alert_ids=[uuid.uuid4()],
        alert_count=2,
    )
    await notifier(sessions, url).notify(attached)
    assert hooks.received == []


async def test_events_of_tenants_outside_the_scope_are_not_sent(
    receiver: tuple[WebhookReceiver, str], sessions: SessionFactory, tenant: str
) -> None:
    hooks, url = receiver
    scoped = notifier(sessions, url, tenants=[f"{tenant}-other"])
    await scoped.notify(opened(tenant))
    assert hooks.received == []
    await scoped.notify(opened(f"{tenant}-other"))
    assert len(hooks.received) == 1
