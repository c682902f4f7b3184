"""Entity verdicts from analysts: benign (with a time to live) keeps an entity from
opening new cases; malicious raises the open cases that contain it to critical, each
raise one audited change through the case store. Alerting applies both to new alerts."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.casestore.lifecycle import OPEN_STATUSES
from libs.common.casestore.store import CaseStore
from libs.common.contracts.detections import Severity
from libs.common.db.models import EntityVerdict
from libs.common.errors import NotFound
from libs.common.http import Principal
from libs.common.verdicts import repository
from libs.common.verdicts.model import EntityKey, Verdict

MAX_RAISED = 200


class VerdictService:
    def __init__(self, store: CaseStore) -> None:
        self._store = store

    async def judge(
        self,
        session: AsyncSession,
        caller: Principal,
        key: EntityKey,
        verdict: Verdict,
        ttl_seconds: int | None,
        reason: str | None,
    ) -> tuple[EntityVerdict, list[uuid.UUID]]:
        """Record the verdict; a malicious one also raises the open cases carrying it."""
        expires = datetime.now(UTC) + timedelta(seconds=ttl_seconds) if ttl_seconds else None
        stored = await repository.set_verdict(
            session, caller.tenant_id, key, verdict, caller.name, reason, expires
        )
        raised: list[uuid.UUID] = []
        if verdict is Verdict.MALICIOUS:
            raised = await self._raise_cases(session, caller, key)
        return stored, raised

    async def _raise_cases(
        self, session: AsyncSession, caller: Principal, key: EntityKey
    ) -> list[uuid.UUID]:
        cases = await repository.open_cases_with_entity(
            session, caller.tenant_id, key, sorted(OPEN_STATUSES), MAX_RAISED
        )
        raised = []
        for case_id, severity in cases:
            if severity != Severity.CRITICAL:
                case = uuid.UUID(case_id)
                change = {"severity": Severity.CRITICAL.value}
                await self._store.update_fields(
                    session, caller.tenant_id, case, change, caller.name
                )
                raised.append(case)
        return raised

    async def read(self, session: AsyncSession, caller: Principal, key: EntityKey) -> EntityVerdict:
        stored = await repository.get_verdict(session, caller.tenant_id, key)
        if stored is None:
            raise NotFound("no verdict on this entity", type=key[0])
        return stored

    async def withdraw(self, session: AsyncSession, caller: Principal, key: EntityKey) -> None:
        if not await repository.delete_verdict(session, caller.tenant_id, key):
            raise NotFound("no verdict on this entity", type=key[0])
