"""Recording attachments on a case, inside the caller's transaction, as notes are: the
row, one audit event and one outbox row. The bytes are already in the object store when
this runs; it records only what was stored."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.casestore import repository
from libs.common.casestore.events import event_base, record_events
from libs.common.contracts.cases import CaseAttachmentAddedV1, CaseAttachmentRemovedV1
from libs.common.db.models import Case, CaseAttachment
from libs.common.errors import NotFound


@dataclass(frozen=True)
class NewAttachment:
    """What was stored: its id is the last segment of `object_key`."""

    id: uuid.UUID
    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    object_key: str


async def add_attachment(
    session: AsyncSession, source: str, case: Case, new: NewAttachment, actor: str
) -> CaseAttachment:
    """`case` is locked by the caller (the store), so events append in order."""
    attachment = await repository.insert_attachment(
        session,
        {
            "id": new.id,
            "tenant_id": case.tenant_id,
            "case_id": case.id,
            "filename": new.filename,
            "content_type": new.content_type,
            "size_bytes": new.size_bytes,
            "sha256": new.sha256,
            "object_key": new.object_key,
            "uploaded_by": actor,
        },
    )
    await repository.update_case(session, case.tenant_id, case.id, {})
    event = CaseAttachmentAddedV1(
        **event_base(case, actor),
        attachment_id=new.id,
        filename=new.filename,
        content_type=new.content_type,
        size_bytes=new.size_bytes,
        sha256=new.sha256,
    )
    await record_events(session, source, [event])
    return attachment


async def remove_attachment(
    session: AsyncSession,
    source: str,
    case: Case,
    attachment_id: uuid.UUID,
    actor: str,
    reason: str | None,
) -> CaseAttachment:
    """Soft removal: the row is stamped; removing it again is not found, like any read."""
    attachment = await repository.lock_attachment(session, case.tenant_id, case.id, attachment_id)
    if attachment is None or attachment.deleted_at is not None:
        raise NotFound("attachment not found", attachment_id=str(attachment_id))
    attachment = await repository.mark_attachment_removed(
        session, case.tenant_id, attachment_id, actor
    )
    await repository.update_case(session, case.tenant_id, case.id, {})
    event = CaseAttachmentRemovedV1(
        **event_base(case, actor),
        attachment_id=attachment_id,
        filename=attachment.filename,
        sha256=attachment.sha256,
        reason=reason,
    )
    await record_events(session, source, [event])
    return attachment
