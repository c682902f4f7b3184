"""HTTP transport for case attachments: any analyst of the case's tenant may add, read,
download and remove them; another tenant's key gets 404 as for the case itself.

The upload body is read here as a stream (services/cases/uploads.py) and handed on
unread; the download is answered as the object store streams it."""

from __future__ import annotations

import base64
import unicodedata
import uuid
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import StreamingResponse

from services.cases.api import Attachments, Caller, Session
from services.cases.attachments_schemas import AttachmentList, AttachmentOut
from services.cases.settings import CasesSettings
from services.cases.uploads import FILE_FIELD, incoming_file

router = APIRouter(prefix="/api/v1/cases/{case_id}/attachments", tags=["attachments"])
Reason = Annotated[str | None, Query(min_length=1, max_length=4_096)]

UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {FILE_FIELD: {"type": "string", "format": "binary"}},
                    "required": [FILE_FIELD],
                }
            }
        },
    }
}


def _declared_length(request: Request) -> int | None:
    value = request.headers.get("content-length", "")
    return int(value) if value.isdigit() else None


@router.post(
    "",
    response_model=AttachmentOut,
    status_code=status.HTTP_201_CREATED,
    summary="Attach a file (multipart/form-data, part 'file'); streamed to object storage, "
    "sha256 recorded, audited",
    openapi_extra=UPLOAD_BODY,
)
async def add_attachment(
    case_id: uuid.UUID, request: Request, caller: Caller, service: Attachments
) -> AttachmentOut:
    settings: CasesSettings = request.app.state.settings
    upload = await incoming_file(
        request.headers.get("content-type"),
        request.stream(),
        settings.cases.max_attachment_bytes,
        _declared_length(request),
    )
    return await service.add(caller, case_id, upload)


@router.get("", response_model=AttachmentList, summary="The case's attachments (metadata)")
async def list_attachments(
    case_id: uuid.UUID, caller: Caller, session: Session, service: Attachments
) -> AttachmentList:
    return await service.list_attachments(session, caller, case_id)


@router.get("/{attachment_id}", response_model=AttachmentOut, summary="One attachment's metadata")
async def get_attachment(
    case_id: uuid.UUID,
    attachment_id: uuid.UUID,
    caller: Caller,
    session: Session,
    service: Attachments,
) -> AttachmentOut:
    return await service.get_attachment(session, caller, case_id, attachment_id)


@router.get(
    "/{attachment_id}/content",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {}}}},
    summary="Download an attachment's content (always as a download, never rendered)",
)
async def download_attachment(
    case_id: uuid.UUID,
    attachment_id: uuid.UUID,
    caller: Caller,
    session: Session,
    service: Attachments,
) -> StreamingResponse:
    attachment, content = await service.open_content(session, caller, case_id, attachment_id)
    return StreamingResponse(content, headers=download_headers(attachment))


@router.delete(
    "/{attachment_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Remove an attachment (soft, audited): gone from lists, downloads and exports",
)
async def remove_attachment(
    case_id: uuid.UUID,
    attachment_id: uuid.UUID,
    caller: Caller,
    session: Session,
    service: Attachments,
    reason: Reason = None,
) -> Response:
    await service.remove(session, caller, case_id, attachment_id, reason)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def content_disposition(filename: str) -> str:
    """RFC 6266: an ASCII fallback name and the exact name, percent-encoded UTF-8."""
    decomposed = unicodedata.normalize("NFKD", filename)
    ascii_name = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_"
        for c in decomposed
        if unicodedata.category(c) != "Mn"  # accents go, their letters stay
    )
    return (
        f'attachment; filename="{ascii_name.strip() or "attachment"}"; '
        f"filename*=UTF-8''{quote(filename, safe='')}"
    )


def download_headers(attachment: AttachmentOut) -> dict[str, str]:
    digest = base64.b64encode(bytes.fromhex(attachment.sha256)).decode()
    return {
        "content-type": attachment.content_type,
        "content-length": str(attachment.size_bytes),
        "content-disposition": content_disposition(attachment.filename),
        # An uploaded file is never a page of ours: no sniffing, no scripts, no caching.
        "x-content-type-options": "nosniff",
        "content-security-policy": "default-src 'none'; sandbox",
        "cache-control": "private, no-store",
        "repr-digest": f"sha-256=:{digest}:",
    }
