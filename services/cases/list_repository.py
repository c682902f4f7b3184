"""SQL of the case list: filters, keyset pages and counts per status. Every statement
filters on the tenant.

Each sort has a tenant-leading index in its key order (models.py), so a page reads
`limit + 1` index entries past the cursor, never an OFFSET. Selective filters (assignee,
host, rule, tags, entity, text) have their own indexes and the planner picks between
them and the sort index.

Full-text search (`q`) filters; it does not rank. Matches come in the requested sort
(newest first by default), which keeps keyset pages stable and cheap and is the order a
SOC queue is read in; ranking every match by ts_rank would mean reading them all."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    DateTime,
    and_,
    cast,
    false,
    func,
    literal_column,
    not_,
    or_,
    select,
    tuple_,
    union,
)
from sqlalchemy.dialects.postgresql import REGCONFIG
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Select
from sqlmodel import col

from libs.common.db.models import Case, CaseCountDelta, CaseEntity, CaseNote
from services.cases.listing import (
    CaseFilter,
    CaseSort,
    Ordering,
    Position,
    SortOrder,
    counted_by_group,
)

# Sorts cases without a due time after every case with one (and matches the due indexes).
NO_DUE_TIME: Any = literal_column("'infinity'::timestamptz", type_=DateTime(timezone=True))
CASES = Case.__table__  # type: ignore[attr-defined]
NOTES = CaseNote.__table__  # type: ignore[attr-defined]
DELTAS = CaseCountDelta.__table__  # type: ignore[attr-defined]


def sort_columns(sort: CaseSort) -> list[Any]:
    """The SQL twin of listing.sort_key, column for column."""
    if sort is CaseSort.NUMBER:
        return [CASES.c.number]
    if sort is CaseSort.SEVERITY:
        return [CASES.c.severity_rank, CASES.c.created_at, CASES.c.id]
    if sort in (CaseSort.ACK_DUE, CaseSort.RESOLVE_DUE):
        return [func.coalesce(CASES.c[sort.value], NO_DUE_TIME), CASES.c.id]
    column = {CaseSort.CREATED: "created_at", CaseSort.UPDATED: "updated_at"}[sort]
    return [CASES.c[column], CASES.c.id]


async def list_cases(
    session: AsyncSession,
    tenant_id: str,
    filters: CaseFilter,
    *,
    after: Position | None,
    limit: int,
) -> list[Case]:
    statement = _filtered(select(Case), tenant_id, filters)
    statement = _page(statement, filters.ordering, after).limit(limit)
    return list((await session.execute(statement)).scalars())


async def count_by_status(
    session: AsyncSession, tenant_id: str, filters: CaseFilter, limit: int
) -> tuple[dict[str, int], bool]:
    """Cases per status for the same filters (no cursor), and whether they are exact.

    Filters on status, severity and classification only: a sum of the per-group counts
    the case triggers keep (a few hundred rows, whatever the tenant's size). Any other
    filter: the matching cases counted, up to `limit` + 1 of them (then not exact)."""
    if counted_by_group(filters):
        statement = select(DELTAS.c.status, func.sum(DELTAS.c.n)).where(
            DELTAS.c.tenant_id == tenant_id
        )
        for column, values in (
            (DELTAS.c.status, filters.statuses),
            (DELTAS.c.severity, filters.severities),
            (DELTAS.c.classification, filters.classifications),
        ):
            if values:
                statement = statement.where(column.in_(values))
        grouped = statement.group_by(DELTAS.c.status).having(func.sum(DELTAS.c.n) > 0)
        rows = (await session.execute(grouped)).all()
        return {status: int(count) for status, count in rows}, True
    matches = _filtered(select(CASES.c.status), tenant_id, filters).limit(limit + 1).subquery()
    counted = select(matches.c.status, func.count()).group_by(matches.c.status)
    counts = {status: int(count) for status, count in (await session.execute(counted)).all()}
    return counts, sum(counts.values()) <= limit


def _page(statement: Select[Any], ordering: Ordering, after: Position | None) -> Select[Any]:
    keys = sort_columns(ordering.sort)
    descending = ordering.order is SortOrder.DESC
    if after is not None:
        values = [NO_DUE_TIME if v is None else v for v in after]
        here, there = tuple_(*keys), tuple_(*values)
        statement = statement.where(here < there if descending else here > there)
    return statement.order_by(*(key.desc() if descending else key.asc() for key in keys))


def _filtered(statement: Select[Any], tenant_id: str, filters: CaseFilter) -> Select[Any]:
    conditions: list[Any] = [CASES.c.tenant_id == tenant_id, CASES.c.deleted_at.is_(None)]
    if filters.statuses:
        conditions.append(CASES.c.status.in_(filters.statuses))
    if filters.severities:
        conditions.append(CASES.c.severity.in_(filters.severities))
    if filters.classifications:
        conditions.append(CASES.c.classification.in_(filters.classifications))
    if filters.sla_breached is not None:
        breached = func.coalesce(sla_breached(), false())
        conditions.append(breached if filters.sla_breached else not_(breached))
    if filters.legal_hold is not None:
        held = CASES.c.legal_hold_since
        conditions.append(held.is_not(None) if filters.legal_hold else held.is_(None))
    if filters.assignee is not None:
        conditions.append(CASES.c.assignee == filters.assignee)
    if filters.tags:
        conditions.append(CASES.c.tags_folded.contains(filters.tags))
    if filters.host is not None:
        conditions.append(CASES.c.host == filters.host)
    if filters.rule_id is not None:
        conditions.append(CASES.c.rule_id == filters.rule_id)
    if filters.entity is not None:
        conditions.append(CASES.c.id.in_(_cases_with_entity(tenant_id, filters)))
    if filters.q is not None:
        conditions.append(CASES.c.id.in_(_cases_matching(tenant_id, filters.q)))
    if filters.custom_fields_contain:
        # @> on the jsonb_path_ops GIN index (ix_cases_custom_fields).
        conditions.append(CASES.c.custom_fields.contains(filters.custom_fields_contain))
    for column, bound, later in (
        ("created_at", filters.created_after, True),
        ("created_at", filters.created_before, False),
        ("updated_at", filters.updated_after, True),
        ("updated_at", filters.updated_before, False),
    ):
        if bound is not None:
            conditions.append(CASES.c[column] >= bound if later else CASES.c[column] < bound)
    return statement.where(and_(*conditions))


def _cases_with_entity(tenant_id: str, filters: CaseFilter) -> Select[Any]:
    found = select(col(CaseEntity.case_id)).where(
        col(CaseEntity.tenant_id) == tenant_id, col(CaseEntity.value) == filters.entity
    )
    if filters.entity_type is not None:
        found = found.where(col(CaseEntity.entity_type) == filters.entity_type.value)
    return found


def _search_query(q: str) -> Any:
    return func.websearch_to_tsquery(cast("english", REGCONFIG), q)


def _cases_matching(tenant_id: str, q: str) -> Any:
    """Cases whose own text or any of whose notes match: each side is a GIN lookup, and
    the union keeps it two index scans (an OR across the join would scan every case)."""
    query = _search_query(q)
    own = select(CASES.c.id).where(
        CASES.c.tenant_id == tenant_id, CASES.c.search_vector.op("@@")(query)
    )
    in_notes = select(NOTES.c.case_id).where(
        NOTES.c.tenant_id == tenant_id, NOTES.c.search_vector.op("@@")(query)
    )
    return union(own, in_notes)


async def has_search_terms(session: AsyncSession, q: str) -> bool:
    """False for a query of stop words or punctuation only: it would match nothing."""
    terms = await session.scalar(select(func.numnode(_search_query(q))))
    return bool(terms)


def sla_breached() -> Any:
    """A due time passed before its acknowledgement/resolution, or passed with none yet.
    NULL (not false) for cases without due times."""
    return or_(
        col(Case.ack_due_at) < func.coalesce(col(Case.acknowledged_at), func.now()),
        col(Case.resolve_due_at) < func.coalesce(col(Case.resolved_at), func.now()),
    )
