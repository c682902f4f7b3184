"""HTTP transport for ingest: read the body within limits, authorize, hand to the service."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, status

from libs.common.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType
from libs.common.http import Principal
from services.ingest.schemas import IngestResponse
from services.ingest.service import IngestService

router = APIRouter(prefix="/api/v1")


def principal(request: Request) -> Principal:
    authenticated: Principal = request.app.state.authenticator.authenticate(request)
    return authenticated


async def read_documents(request: Request) -> list[Any]:
    limits = request.app.state.settings.ingest
    content_type = request.headers.get("content-type", "application/json").split(";")[0].strip()
    if content_type not in ("application/json", ""):
        raise UnsupportedMediaType(
            "send application/json (one detection or an array)", content_type=content_type
        )
    declared = int(request.headers.get("content-length") or 0)
    if declared > limits.max_body_bytes:
        raise PayloadTooLarge("request body too large", limit_bytes=limits.max_body_bytes)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limits.max_body_bytes:
            raise PayloadTooLarge("request body too large", limit_bytes=limits.max_body_bytes)
    try:
        parsed = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InvalidInput(f"body is not valid JSON: {error}") from error
    documents = parsed if isinstance(parsed, list) else [parsed]
    if not documents:
        raise InvalidInput("empty batch: send at least one detection")
    if len(documents) > limits.max_batch_items:
        raise PayloadTooLarge(
            "too many detections in one request",
            limit_items=limits.max_batch_items,
            received=len(documents),
        )
    return documents


@router.post(
    "/detections",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=IngestResponse,
    summary="Submit one detection or a JSON array of detections",
)
async def submit_detections(
    request: Request, caller: Annotated[Principal, Depends(principal)]
) -> IngestResponse:
    documents = await read_documents(request)
    service: IngestService = request.app.state.ingest_service
    return await service.ingest(caller.tenant_id, documents)
