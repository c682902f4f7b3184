"""HTTP transport for entity verdicts (services/cases/verdict_service.py has the rules)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from libs.common.contracts.detections import EntityType
from libs.common.db.models import EntityVerdict
from libs.common.http import app_state
from libs.common.verdicts.model import VALUE_LIMIT, Verdict, entity_key
from services.cases.api import Caller, Session
from services.cases.verdict_service import VerdictService

router = APIRouter(prefix="/api/v1/entity-verdicts", tags=["entities"])


class VerdictIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: EntityType
    value: str = Field(min_length=1, max_length=VALUE_LIMIT)
    verdict: Verdict
    # How long it holds; omitted: until changed or removed.
    ttl_seconds: int | None = Field(default=None, ge=60, le=365 * 24 * 3600)
    reason: str | None = Field(default=None, max_length=4_096)


class VerdictOut(BaseModel):
    type: str
    value: str = Field(description="lower-cased, as entities are matched")
    verdict: Verdict
    reason: str | None
    set_by: str
    set_at: datetime
    expires_at: datetime | None
    # Malicious: the open cases this verdict raised to critical.
    raised_case_ids: list[uuid.UUID] = Field(default_factory=list)


Service = Annotated[VerdictService, Depends(app_state("verdict_service"))]
EntityTypeQuery = Annotated[EntityType, Query(alias="type")]
ValueQuery = Annotated[str, Query(min_length=1, max_length=VALUE_LIMIT)]


def _out(stored: EntityVerdict, raised: list[uuid.UUID] | None = None) -> VerdictOut:
    return VerdictOut(
        type=stored.entity_type,
        value=stored.value,
        verdict=Verdict(stored.verdict),
        reason=stored.reason,
        set_by=stored.set_by,
        set_at=stored.set_at,
        expires_at=stored.expires_at,
        raised_case_ids=raised or [],
    )


@router.put("", response_model=VerdictOut, summary="Judge an entity benign or malicious")
async def put_verdict(
    body: VerdictIn, caller: Caller, session: Session, service: Service
) -> VerdictOut:
    key = entity_key(body.type.value, body.value)
    stored, raised = await service.judge(
        session, caller, key, body.verdict, body.ttl_seconds, body.reason
    )
    return _out(stored, raised)


@router.get("", response_model=VerdictOut, summary="The verdict on an entity")
async def get_verdict(
    entity_type: EntityTypeQuery,
    value: ValueQuery,
    caller: Caller,
    session: Session,
    service: Service,
) -> VerdictOut:
    return _out(await service.read(session, caller, entity_key(entity_type.value, value)))


@router.delete("", status_code=status.HTTP_204_NO_CONTENT, summary="Withdraw a verdict")
async def delete_verdict(
    entity_type: EntityTypeQuery,
    value: ValueQuery,
    caller: Caller,
    session: Session,
    service: Service,
) -> Response:
    await service.withdraw(session, caller, entity_key(entity_type.value, value))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
