"""HTTP transport for ingest: read the body within limits, authorize, hand to the service."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status

from libs.common.errors import PayloadTooLarge
from libs.common.http import Principal
from libs.common.ratelimit import DetectionRateLimiter
from services.ingest.adapters import FormatAdapter
from services.ingest.bodies import Documents, decompress, media_type, split_documents
from services.ingest.schemas import IngestResponse
from services.ingest.service import IngestService, declared_format
from services.ingest.signed_sources import SignedSourceVerifier

router = APIRouter(prefix="/api/v1")


async def principal(request: Request) -> Principal:
    authenticated: Principal = await request.app.state.authenticator.authenticate(request)
    return authenticated


async def read_body(request: Request) -> bytes:
    """The body as sent, within the size limit (signatures are over these bytes)."""
    limit = request.app.state.settings.ingest.max_body_bytes
    if int(request.headers.get("content-length") or 0) > limit:
        raise PayloadTooLarge("request body too large", limit_bytes=limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge("request body too large", limit_bytes=limit)
    return b"".join(chunks)  # one copy: growing a bytearray copies megabytes repeatedly


def documents_in(request: Request, body: bytes) -> Documents:
    limits = request.app.state.settings.ingest
    plain = decompress(body, request.headers.get("content-encoding"), limits.max_body_bytes)
    content_type = media_type(request.headers.get("content-type"))
    return split_documents(plain, content_type, limits.max_batch_items)


async def accept(
    request: Request, caller: Principal, documents: Documents, declared: FormatAdapter | None
) -> Response:
    limiter: DetectionRateLimiter = request.app.state.rate_limiter
    await limiter.consume(caller.tenant_id, caller.name, len(documents.items))
    service: IngestService = request.app.state.ingest_service
    outcome = await service.ingest(caller.tenant_id, documents, declared)
    # Written once by msgspec; `response_model` still documents the shape.
    return Response(outcome.to_json(), status.HTTP_202_ACCEPTED, media_type="application/json")


FormatQuery = Annotated[str | None, Query(alias="format", max_length=64)]
FormatHeader = Annotated[str | None, Header(alias="X-Casestream-Format", max_length=64)]


@router.post(
    "/detections",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=IngestResponse,
    summary="Submit detections: one JSON object, a JSON array, or NDJSON; gzip allowed",
)
async def submit_detections(
    request: Request,
    caller: Annotated[Principal, Depends(principal)],
    format_query: FormatQuery = None,
    format_header: FormatHeader = None,
) -> Response:
    declared = declared_format(format_query or format_header)  # fails before reading the body
    documents = documents_in(request, await read_body(request))
    return await accept(request, caller, documents, declared)


@router.post(
    "/webhooks/{source}",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=IngestResponse,
    summary="Submit detections from a source that signs its deliveries (Standard Webhooks)",
)
async def submit_signed_webhook(
    source: str,
    request: Request,
    format_query: FormatQuery = None,
    format_header: FormatHeader = None,
) -> Response:
    declared = declared_format(format_query or format_header)
    body = await read_body(request)
    verifier: SignedSourceVerifier = request.app.state.signed_sources
    caller = verifier.verify(source, body, dict(request.headers))
    return await accept(request, caller, documents_in(request, body), declared)
