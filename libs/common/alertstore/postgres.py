"""The default alert store: the alerts table that alerting writes in its grouping
transaction. Reads only (see protocol.py for why). Every statement filters on the tenant,
and an alert whose case was deleted is not found, like everywhere else in the API.

Indexes: time ranges use ix_alerts_tenant_effective_time (tenant, effective_time); host
and entity filters use the GIN index ix_alerts_entity_keys over each alert's entity_keys
column (migration 0026; alerting writes them), whose keys are
"<tenant>/<type>=<folded value>". The rule filter rides on the time index; list pages
never read the detection column, so they never detoast a payload."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Text, exists, func, literal, not_, select, tuple_
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import RowMapping

from libs.common.alertstore.cursor import Position, decode_cursor, encode_cursor, epoch_micros
from libs.common.alertstore.model import (
    AlertDocument,
    AlertPage,
    AlertQuery,
    AlertRef,
)
from libs.common.contracts.detections import Severity
from libs.common.db.engine import SessionFactory
from libs.common.db.models import Alert, Case
from libs.common.settings import AlertStoreKind

ALERTS = Alert.__table__  # type: ignore[attr-defined]
CASES = Case.__table__  # type: ignore[attr-defined]
SUMMARY_FIELDS = (
    "id",
    "tenant_id",
    "detection_id",
    "case_id",
    "title",
    "severity",
    "rule_id",
    "rule_name",
    "host",
    "source",
    "group_key",
    "event_time",
    "effective_time",
    "time_fallback",
    "ingested_at",
    "last_seen",
    "occurrence_count",
    "stored_at",
)
SUMMARY_COLUMNS = [ALERTS.c[name] for name in SUMMARY_FIELDS]
ENTITY_KEYS = ALERTS.c.entity_keys  # GIN-indexed: ix_alerts_entity_keys
CASE_DELETED = exists().where(
    CASES.c.id == ALERTS.c.case_id,
    CASES.c.tenant_id == ALERTS.c.tenant_id,
    CASES.c.deleted_at.is_not(None),
)


@dataclass(frozen=True)
class IndexingRead:
    visible: list[AlertDocument]
    hidden: list[AlertRef]
    # When Postgres read them (µs, its own clock): a later read holds a state at least as
    # new, so the OpenSearch store keeps the write with the highest version.
    version: int


def _keys(tenant_id: str, keys: Sequence[str]) -> Any:
    return literal([f"{tenant_id}/{key}" for key in keys], ARRAY(Text))


def _conditions(tenant_id: str, query: AlertQuery) -> list[Any]:
    conditions: list[Any] = [ALERTS.c.tenant_id == tenant_id, not_(CASE_DELETED)]
    if query.start is not None:
        conditions.append(ALERTS.c.effective_time >= query.start)
    if query.end is not None:
        conditions.append(ALERTS.c.effective_time < query.end)
    if query.rule_id is not None:
        conditions.append(ALERTS.c.rule_id == query.rule_id)
    host_key = query.host_key()
    if host_key is not None:
        conditions.append(ENTITY_KEYS.op("@>")(_keys(tenant_id, [host_key])))
    keys = query.entity_keys()
    if keys is not None:
        conditions.append(ENTITY_KEYS.op("&&")(_keys(tenant_id, keys)))
    return conditions


def _document(row: RowMapping, payload: bool) -> AlertDocument:
    values = {name: row[name] for name in SUMMARY_FIELDS}
    values["severity"] = Severity(values["severity"])
    return AlertDocument(**values, detection=row["detection"] if payload else None)


def _columns(payload: bool) -> list[Any]:
    return [*SUMMARY_COLUMNS, ALERTS.c.detection] if payload else SUMMARY_COLUMNS


class PostgresAlertStore:
    def __init__(self, sessions: SessionFactory) -> None:
        self._sessions = sessions

    @property
    def kind(self) -> AlertStoreKind:
        return AlertStoreKind.POSTGRES

    async def get(
        self, tenant_id: str, alert_id: uuid.UUID, *, payload: bool = False
    ) -> AlertDocument | None:
        statement = select(*_columns(payload)).where(
            ALERTS.c.tenant_id == tenant_id, ALERTS.c.id == alert_id, not_(CASE_DELETED)
        )
        async with self._sessions() as session:
            row = (await session.execute(statement)).mappings().one_or_none()
        return None if row is None else _document(row, payload)

    async def search(
        self,
        tenant_id: str,
        query: AlertQuery,
        *,
        cursor: str | None = None,
        limit: int = 50,
        payload: bool = False,
    ) -> AlertPage:
        conditions = _conditions(tenant_id, query)
        if cursor is not None:
            after = decode_cursor(cursor)
            position = tuple_(ALERTS.c.effective_time, ALERTS.c.id)
            conditions.append(position < tuple_(after.effective_time, after.alert_id))
        statement = (
            select(*_columns(payload))
            .where(*conditions)
            .order_by(ALERTS.c.effective_time.desc(), ALERTS.c.id.desc())
            .limit(limit + 1)
        )
        async with self._sessions() as session:
            rows = (await session.execute(statement)).mappings().all()
        items = [_document(row, payload) for row in rows[:limit]]
        more = len(rows) > limit
        last = items[-1] if items else None
        next_cursor = (
            encode_cursor(Position(last.effective_time, last.id)) if more and last else None
        )
        return AlertPage(items=items, next_cursor=next_cursor)

    async def count(self, tenant_id: str, query: AlertQuery) -> int:
        statement = select(func.count()).select_from(ALERTS).where(*_conditions(tenant_id, query))
        async with self._sessions() as session:
            return int((await session.execute(statement)).scalar_one())

    async def close(self) -> None:
        """The engine belongs to the service that made the session factory."""

    # Not part of AlertStore: what the alert indexer reads to feed another store.

    async def for_indexing(self, tenant_id: str, alert_ids: Sequence[uuid.UUID]) -> IndexingRead:
        """The alerts as they are now, with payloads, and those that must not be found
        (their case is deleted). Ids of other tenants, or unknown, are in neither."""
        statement = select(
            *_columns(True),
            CASE_DELETED.label("case_deleted"),
            func.statement_timestamp().label("read_at"),
        ).where(ALERTS.c.tenant_id == tenant_id, ALERTS.c.id.in_(sorted(set(alert_ids))))
        async with self._sessions() as session:
            rows = (await session.execute(statement)).mappings().all() if alert_ids else []
        return IndexingRead(
            visible=[_document(row, True) for row in rows if not row["case_deleted"]],
            hidden=[
                AlertRef(tenant_id, row["id"], row["effective_time"])
                for row in rows
                if row["case_deleted"]
            ],
            version=epoch_micros(rows[0]["read_at"]) if rows else 0,
        )

    async def alert_ids_of_cases(
        self, tenant_id: str, case_ids: Sequence[uuid.UUID]
    ) -> list[uuid.UUID]:
        """Every alert of these cases, deleted or not (ix_alerts_tenant_case)."""
        if not case_ids:
            return []
        statement = select(ALERTS.c.id).where(
            ALERTS.c.tenant_id == tenant_id, ALERTS.c.case_id.in_(sorted(set(case_ids)))
        )
        async with self._sessions() as session:
            return list((await session.execute(statement)).scalars())
