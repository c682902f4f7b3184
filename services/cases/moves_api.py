"""HTTP transport for moving alerts between cases: merge, unmerge, split. Analyst keys;
the key decides the tenant, and another tenant's case ids are 404."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, status

from libs.common.http import app_state
from services.cases.api import Caller, Session
from services.cases.moves_schemas import MergeIn, MergeOut, SplitIn, SplitOut, UnmergeOut
from services.cases.moves_service import CaseMoveService

router = APIRouter(prefix="/api/v1")


Service = Annotated[CaseMoveService, Depends(app_state("case_move_service"))]


@router.post(
    "/cases/{case_id}/merge",
    response_model=MergeOut,
    summary="Merge up to 20 cases into this one: their alerts, notes, tasks, attachments and "
    "grouping slots",
)
async def merge_cases(
    case_id: uuid.UUID, body: MergeIn, caller: Caller, session: Session, service: Service
) -> MergeOut:
    return await service.merge(session, caller, case_id, body)


@router.post(
    "/cases/{case_id}/unmerge",
    response_model=UnmergeOut,
    summary="Undo this case's merge: its alerts, notes, tasks, attachments, slots and status "
    "come back",
)
async def unmerge_case(
    case_id: uuid.UUID, caller: Caller, session: Session, service: Service
) -> UnmergeOut:
    return await service.unmerge(session, caller, case_id)


@router.post(
    "/cases/{case_id}/split",
    response_model=SplitOut,
    status_code=status.HTTP_201_CREATED,
    summary="Move chosen alerts out of this case into a new case; their provenance is kept",
)
async def split_case(
    case_id: uuid.UUID, body: SplitIn, caller: Caller, session: Session, service: Service
) -> SplitOut:
    return await service.split(session, caller, case_id, body)
