"""The executor acts through the real cases API with its service credential, records each
run, and never repeats a note for a replayed event."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import text

from libs.common.casestore.store import CaseStore, NewCase
from libs.common.contracts.cases import CaseOpenedV1, CaseStatus
from libs.common.contracts.detections import Severity
from libs.common.db.engine import SessionFactory, transaction
from libs.common.settings import (
    ApiCredential,
    DatabaseSettings,
    KafkaSettings,
    TenantScopedSection,
)
from services.cases.app import create_app
from services.cases.settings import CasesSection, CasesSettings
from services.executor.cases_client import CasesApiClient
from services.executor.playbooks import BUILT_IN_PLAYBOOKS
from services.executor.service import PlaybookRunner
from tests.support.http_server import serve

SERVICE_KEY = "executor-key"


@pytest.fixture
async def runner(
    kafka_settings: KafkaSettings, database_url: str, sessions: SessionFactory, tenant: str
) -> AsyncIterator[PlaybookRunner]:
    settings = CasesSettings(
        kafka=kafka_settings,
        database=DatabaseSettings(url=SecretStr(database_url)),
        cases=CasesSection(
            api_keys=[
                ApiCredential(key=SecretStr(SERVICE_KEY), tenant=tenant, name="executor-playbooks")
            ]
        ),
    )
    async with serve(create_app(settings)) as url, httpx.AsyncClient() as http:
        client = CasesApiClient(url, SERVICE_KEY, http, attempts=2)
        yield PlaybookRunner(
            BUILT_IN_PLAYBOOKS, sessions, client, TenantScopedSection(tenants=[tenant])
        )


async def opened_case(sessions: SessionFactory, tenant: str, severity: Severity) -> CaseOpenedV1:
    async with transaction(sessions) as session:
        case, _ = await CaseStore("test").open_case(
            session, NewCase(tenant_id=tenant, title="c", severity=severity), [], "system:alerting"
        )
    return CaseOpenedV1(
        tenant_id=tenant,
        case_id=case.id,
        case_number=case.number,
        actor="system:alerting",
        occurred_at=datetime.now(UTC),
        title="c",
        severity=severity,
        status=CaseStatus.NEW,
    )


async def notes_and_runs(sessions: SessionFactory, tenant: str) -> tuple[list[str], list[str]]:
    async with sessions() as session:
        notes = (
            (
                await session.execute(
                    text("SELECT author FROM case_notes WHERE tenant_id = :t"), {"t": tenant}
                )
            )
            .scalars()
            .all()
        )
        runs = (
            (
                await session.execute(
                    text("SELECT status FROM playbook_runs WHERE tenant_id = :t"), {"t": tenant}
                )
            )
            .scalars()
            .all()
        )
    return list(notes), list(runs)


async def test_a_critical_case_gets_one_note_even_when_replayed(
    runner: PlaybookRunner, sessions: SessionFactory, tenant: str
) -> None:
    event = await opened_case(sessions, tenant, Severity.CRITICAL)
    await runner.on_event(event)
    await runner.on_event(event)
    assert await notes_and_runs(sessions, tenant) == (["executor-playbooks"], ["succeeded"])


async def test_a_crash_after_the_api_call_does_not_duplicate_the_note(
    runner: PlaybookRunner, sessions: SessionFactory, tenant: str
) -> None:
    event = await opened_case(sessions, tenant, Severity.CRITICAL)
    await runner.on_event(event)
    async with transaction(sessions) as session:  # as if the run record never finished
        await session.execute(
            text("UPDATE playbook_runs SET status = 'running' WHERE tenant_id = :t"), {"t": tenant}
        )
    await runner.on_event(event)
    assert await notes_and_runs(sessions, tenant) == (["executor-playbooks"], ["succeeded"])


async def test_other_cases_are_left_alone(
    runner: PlaybookRunner, sessions: SessionFactory, tenant: str
) -> None:
    await runner.on_event(await opened_case(sessions, tenant, Severity.HIGH))
    assert await notes_and_runs(sessions, tenant) == ([], [])


async def test_a_refused_call_is_recorded_as_failed(
    runner: PlaybookRunner, sessions: SessionFactory, tenant: str
) -> None:
    event = await opened_case(sessions, tenant, Severity.CRITICAL)
    foreign = event.model_copy(update={"case_id": uuid.uuid4()})  # not visible to the key
    await runner.on_event(foreign)
    assert await notes_and_runs(sessions, tenant) == ([], ["failed"])


async def test_tenants_outside_the_credential_are_skipped(
    runner: PlaybookRunner, sessions: SessionFactory, tenant: str
) -> None:
    outsider = f"{tenant}-x"
    await runner.on_event(await opened_case(sessions, outsider, Severity.CRITICAL))
    assert await notes_and_runs(sessions, outsider) == ([], [])
