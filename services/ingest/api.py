"""HTTP transport for ingest: read the body within limits, authorize, hand to the service."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, status

from libs.common.errors import PayloadTooLarge
from libs.common.http import Principal
from libs.common.ratelimit import DetectionRateLimiter
from services.ingest.bodies import decompress, media_type, parse_documents
from services.ingest.schemas import IngestResponse
from services.ingest.service import IngestService, declared_format

router = APIRouter(prefix="/api/v1")


async def principal(request: Request) -> Principal:
    authenticated: Principal = await request.app.state.authenticator.authenticate(request)
    return authenticated


async def read_documents(request: Request) -> list[Any]:
    limits = request.app.state.settings.ingest
    declared = int(request.headers.get("content-length") or 0)
    if declared > limits.max_body_bytes:
        raise PayloadTooLarge("request body too large", limit_bytes=limits.max_body_bytes)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limits.max_body_bytes:
            raise PayloadTooLarge("request body too large", limit_bytes=limits.max_body_bytes)
    plain = decompress(bytes(body), request.headers.get("content-encoding"), limits.max_body_bytes)
    content_type = media_type(request.headers.get("content-type"))
    return parse_documents(plain, content_type, limits.max_batch_items)


@router.post(
    "/detections",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=IngestResponse,
    summary="Submit detections: one JSON object, a JSON array, or NDJSON; gzip allowed",
)
async def submit_detections(
    request: Request,
    caller: Annotated[Principal, Depends(principal)],
    format_query: Annotated[str | None, Query(alias="format", max_length=64)] = None,
    format_header: Annotated[str | None, Header(alias="X-Casestream-Format", max_length=64)] = None,
) -> IngestResponse:
    declared = declared_format(format_query or format_header)
    documents = await read_documents(request)
    limiter: DetectionRateLimiter = request.app.state.rate_limiter
    await limiter.consume(caller.tenant_id, caller.name, len(documents))
    service: IngestService = request.app.state.ingest_service
    return await service.ingest(caller.tenant_id, documents, declared)
