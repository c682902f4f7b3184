"""HTTP transport for bulk case changes: create a job (202), then watch it. Analyst
keys; the key decides the tenant, and another tenant's jobs are 404."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, status

from libs.common.http import app_state
from services.cases.api import Caller, Session
from services.cases.bulk_runner import BulkJobRunner
from services.cases.bulk_schemas import BulkIn, BulkJobOut
from services.cases.bulk_service import BulkJobService

router = APIRouter(prefix="/api/v1")


Service = Annotated[BulkJobService, Depends(app_state("bulk_job_service"))]
Runner = Annotated[BulkJobRunner, Depends(app_state("bulk_job_runner"))]


@router.post(
    "/cases/bulk",
    response_model=BulkJobOut,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Change up to 200 cases (by ids or a filter) as a job; dry_run writes nothing",
)
async def create_bulk_job(
    body: BulkIn,
    caller: Caller,
    session: Session,
    service: Service,
    runner: Runner,
    background: BackgroundTasks,
) -> BulkJobOut:
    job = await service.create_job(session, caller, body)
    # Background tasks run after the response, so after the job's commit.
    background.add_task(runner.submit, job.id)
    return job


@router.get(
    "/cases/bulk/{job_id}",
    response_model=BulkJobOut,
    summary="A bulk job's progress and each case's result",
)
async def get_bulk_job(
    job_id: uuid.UUID, caller: Caller, session: Session, service: Service
) -> BulkJobOut:
    return await service.get_job(session, caller, job_id)
