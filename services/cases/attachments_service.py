"""Rules of case attachments: the bytes go to the object store first, the record (with
its audit event and outbox row, through the case store) after, so a recorded attachment
always has its content. What can go wrong in between leaves at most an unrecorded
object, deleted here on a best-effort basis (docs/attachments.md: orphans).

Uploads own their transactions, unlike other writes: a request's transaction would stay
open, holding a connection, for as long as the client takes to send the file."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.casestore.store import CaseStore, NewAttachment
from libs.common.db.engine import SessionFactory, transaction
from libs.common.db.models import CaseAttachment
from libs.common.errors import DomainError, NotFound
from libs.common.http import Principal
from libs.common.logging import get_logger
from libs.common.objectstore import ObjectStore, tenant_key_prefix
from services.cases import attachments_repository, repository
from services.cases.attachments_schemas import AttachmentList, AttachmentOut
from services.cases.export_archive import ArchiveMember, archive_name, case_archive
from services.cases.schemas import CaseExport
from services.cases.uploads import IncomingFile

log = get_logger(__name__)


def object_key(tenant_id: str, case_id: uuid.UUID, attachment_id: uuid.UUID) -> str:
    """tenant/case/attachment id: the user's filename never becomes part of a key."""
    return f"{tenant_key_prefix(tenant_id)}{case_id}/{attachment_id}"


class AttachmentService:
    def __init__(
        self,
        store: CaseStore,
        objects: ObjectStore,
        sessions: SessionFactory,
        on_committed: Callable[[], None],
    ) -> None:
        self._store = store
        self._objects = objects
        self._sessions = sessions
        self._on_committed = on_committed

    async def add(
        self, caller: Principal, case_id: uuid.UUID, upload: IncomingFile
    ) -> AttachmentOut:
        async with transaction(self._sessions) as session:
            await _live_case(session, caller, case_id)  # before a byte goes to the store
        attachment_id = uuid.uuid4()
        key = object_key(caller.tenant_id, case_id, attachment_id)
        await self._objects.put_stream(key, upload.chunks(), upload.content_type)
        new = NewAttachment(
            id=attachment_id,
            filename=upload.filename,
            content_type=upload.content_type,
            size_bytes=upload.size_bytes,
            sha256=upload.sha256,
            object_key=key,
        )
        try:
            async with transaction(self._sessions) as session:
                row = await self._store.add_attachment(
                    session, caller.tenant_id, case_id, new, caller.name
                )
        except BaseException:
            await self._forget(key)
            raise
        self._on_committed()
        log.info(
            "case.attachment_added",
            case_id=str(case_id),
            attachment_id=str(attachment_id),
            size_bytes=new.size_bytes,
        )
        return AttachmentOut.model_validate(row)

    async def _forget(self, key: str) -> None:
        """Delete an object whose record was not written. If that fails too, the object
        is an orphan: logged with its key for the sweep docs/attachments.md describes."""
        try:
            await self._objects.delete(key)
        except DomainError:
            log.warning("attachment.orphaned", object_key=key)

    async def list_attachments(
        self, session: AsyncSession, caller: Principal, case_id: uuid.UUID
    ) -> AttachmentList:
        await _live_case(session, caller, case_id)
        rows = await attachments_repository.case_attachments(session, caller.tenant_id, case_id)
        return AttachmentList(items=[AttachmentOut.model_validate(row) for row in rows])

    async def get_attachment(
        self, session: AsyncSession, caller: Principal, case_id: uuid.UUID, attachment_id: uuid.UUID
    ) -> AttachmentOut:
        return AttachmentOut.model_validate(
            await _live_attachment(session, caller, case_id, attachment_id)
        )

    async def open_content(
        self, session: AsyncSession, caller: Principal, case_id: uuid.UUID, attachment_id: uuid.UUID
    ) -> tuple[AttachmentOut, AsyncIterator[bytes]]:
        """The metadata and the content, the store already answering: an unreachable store
        is a 503 before the download starts, not a broken download."""
        row = await _live_attachment(session, caller, case_id, attachment_id)
        content = await self._objects.open(row.object_key)
        return AttachmentOut.model_validate(row), content

    async def remove(
        self,
        session: AsyncSession,
        caller: Principal,
        case_id: uuid.UUID,
        attachment_id: uuid.UUID,
        reason: str | None,
    ) -> None:
        await self._store.remove_attachment(
            session, caller.tenant_id, case_id, attachment_id, caller.name, reason
        )
        log.info("case.attachment_removed", case_id=str(case_id), attachment_id=str(attachment_id))

    async def archive(
        self, session: AsyncSession, caller: Principal, export: CaseExport
    ) -> AsyncIterator[bytes]:
        """The export as a zip stream. Every object is looked at (HEAD) first, so a store
        that is down or a missing object fails the request rather than the download."""
        rows = await attachments_repository.case_attachments(
            session, caller.tenant_id, export.case.id
        )
        listed = {a.id for a in export.attachments}
        members = [
            ArchiveMember(
                name=archive_name(row.id, row.filename),
                object_key=row.object_key,
                size_bytes=row.size_bytes,
                modified_at=row.created_at,
            )
            for row in rows
            if row.id in listed  # exactly what case.json lists
        ]
        for member in members:
            await self._objects.size_of(member.object_key)
        document = export.model_dump_json(indent=2).encode()
        return case_archive(document, export.metadata.exported_at, members, self._open_member)

    async def _open_member(self, member: ArchiveMember) -> AsyncIterator[bytes]:
        return await self._objects.open(member.object_key)


async def _live_case(session: AsyncSession, caller: Principal, case_id: uuid.UUID) -> None:
    if await repository.get_case(session, caller.tenant_id, case_id) is None:
        raise NotFound("case not found", case_id=str(case_id))


async def _live_attachment(
    session: AsyncSession, caller: Principal, case_id: uuid.UUID, attachment_id: uuid.UUID
) -> CaseAttachment:
    await _live_case(session, caller, case_id)
    row = await attachments_repository.get_attachment(
        session, caller.tenant_id, case_id, attachment_id
    )
    if row is None:
        raise NotFound("attachment not found", attachment_id=str(attachment_id))
    return row
