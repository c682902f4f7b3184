"""Alert search for the API, over the configured alert store (Postgres by default,
OpenSearch when CASESTREAM__ALERT_STORE__KIND=opensearch). Always the caller's tenant."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime

from libs.common.alertstore.model import AlertDocument, AlertQuery
from libs.common.alertstore.protocol import AlertStore
from libs.common.errors import InvalidInput, NotFound
from libs.common.http import Principal
from services.cases.alerts_schemas import AlertCountOut, AlertOut, AlertPageOut


def _utc(moment: datetime | None) -> datetime | None:
    """A time without a zone is taken as UTC, as every stored time is."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def checked(query: AlertQuery) -> AlertQuery:
    query = replace(query, start=_utc(query.start), end=_utc(query.end))
    if query.start is not None and query.end is not None and query.start >= query.end:
        raise InvalidInput("from must be before to", parameter="from")
    if query.entity is None and query.entity_type is not None:
        raise InvalidInput("entity_type needs an entity", parameter="entity_type")
    return query


def _out(document: AlertDocument) -> AlertOut:
    return AlertOut.model_validate(document, from_attributes=True)


class AlertSearchService:
    def __init__(self, store: AlertStore) -> None:
        self._store = store

    async def search(
        self,
        caller: Principal,
        query: AlertQuery,
        cursor: str | None,
        limit: int,
        payload: bool,
    ) -> AlertPageOut:
        page = await self._store.search(
            caller.tenant_id, checked(query), cursor=cursor, limit=limit, payload=payload
        )
        return AlertPageOut(items=[_out(d) for d in page.items], next_cursor=page.next_cursor)

    async def count(self, caller: Principal, query: AlertQuery) -> AlertCountOut:
        return AlertCountOut(count=await self._store.count(caller.tenant_id, checked(query)))

    async def get(self, caller: Principal, alert_id: uuid.UUID, payload: bool) -> AlertOut:
        document = await self._store.get(caller.tenant_id, alert_id, payload=payload)
        if document is None:
            raise NotFound("alert not found", alert_id=str(alert_id))
        return _out(document)
