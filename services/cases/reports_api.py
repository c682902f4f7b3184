"""`GET /api/v1/dashboard` and `GET /api/v1/reports/cases`: read-only figures over the
caller's tenant, for any analyst of it. Transport only; the rules are in reports_service."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from services.cases import reports_service
from services.cases.api import Caller, Session
from services.cases.reports_repository import GroupBy
from services.cases.reports_schemas import CaseReport, Dashboard

router = APIRouter(prefix="/api/v1", tags=["reports"])


@router.get(
    "/dashboard",
    response_model=Dashboard,
    summary="Cases by status and severity, and the open cases overdue on an SLA now",
)
async def get_dashboard(
    caller: Caller,
    session: Session,
    breaches_listed: Annotated[
        int, Query(ge=0, le=100, description="how many of the oldest overdue cases to list")
    ] = 10,
) -> Dashboard:
    return await reports_service.dashboard(session, caller, breaches_listed)


@router.get(
    "/reports/cases",
    response_model=CaseReport,
    summary="MTTA/MTTR, SLA compliance, volume and TP/FP rates of the cases opened in a "
    "period, overall and per rule or assignee",
)
async def get_case_report(
    caller: Caller,
    session: Session,
    start: Annotated[datetime, Query(description="inclusive, with a time zone")],
    end: Annotated[datetime, Query(description="exclusive, with a time zone")],
    group_by: Annotated[GroupBy, Query()] = GroupBy.NONE,
) -> CaseReport:
    return await reports_service.case_report(session, caller, start, end, group_by)
