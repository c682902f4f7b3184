"""`POST /api/v1/grouping/backtest`: what a candidate alerting policy would have made of a
time range of the tenant's stored detections, against the cases that exist. Read-only:
live cases, alerts and policies are untouched. Tenant admins only, like the policy."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, model_validator

from libs.common.errors import InvalidInput
from libs.common.policies.alerting import AlertingPolicy
from libs.common.policies.backtest import BacktestReport, backtest
from libs.common.policies.repository import current_policy, stored_detections
from services.cases.api import Admin, Session

router = APIRouter(prefix="/api/v1/grouping", tags=["admin"])
MAX_DETECTIONS = 100_000


class BacktestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Event-time range [start, end).
    start: datetime
    end: datetime
    # The candidate; omitted: the policy in force (to see how live grouping drifted).
    policy: AlertingPolicy | None = None
    cases_listed: int = Field(default=50, ge=0, le=1_000)

    @model_validator(mode="after")
    def _ordered(self) -> BacktestIn:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("start and end need a time zone")
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class BacktestOut(BaseModel):
    policy_version: int | None = Field(
        description="the stored version replayed; null when a candidate was sent"
    )
    report: BacktestReport


@router.post("/backtest", response_model=BacktestOut, summary="Replay a range under a policy")
async def run_backtest(body: BacktestIn, caller: Admin, session: Session) -> BacktestOut:
    version: int | None = None
    policy = body.policy
    if policy is None:
        stored = await current_policy(session, caller.tenant_id)
        version, policy = stored.version, stored.policy
    detections = await stored_detections(
        session, caller.tenant_id, body.start, body.end, MAX_DETECTIONS + 1
    )
    if len(detections) > MAX_DETECTIONS:
        raise InvalidInput(
            "too many detections in the range for one backtest; narrow it",
            limit_detections=MAX_DETECTIONS,
        )
    return BacktestOut(
        policy_version=version, report=backtest(detections, policy, body.cases_listed)
    )
