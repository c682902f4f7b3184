"""Counts of live cases, kept by Postgres itself (triggers in migration 0021).

Every statement that inserts, updates or deletes cases appends one signed row per
(tenant, status, severity, classification) whose number of live cases changed: +n for
cases arriving in it, -n for cases leaving it. Writers only ever insert here, so no case
write waits on a counter row. The case list sums a tenant's rows for its counts per
status, and a background compaction (libs/common/casestore/counts.py) folds each
group's rows into one."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, String
from sqlmodel import Field, SQLModel

from libs.common.db.columns import tenant_column


class CaseCountDelta(SQLModel, table=True):
    __tablename__ = "case_count_deltas"
    __table_args__ = (
        Index("ix_case_count_deltas_group", "tenant_id", "status", "severity", "classification"),
    )

    id: int | None = Field(
        default=None, sa_column=Column(BigInteger, primary_key=True, autoincrement=True)
    )
    tenant_id: str = Field(sa_column=tenant_column())
    status: str = Field(sa_column=Column(String(32), nullable=False))
    severity: str = Field(sa_column=Column(String(16), nullable=False))
    classification: str = Field(sa_column=Column(String(32), nullable=False))
    n: int = Field(sa_column=Column(BigInteger, nullable=False))
