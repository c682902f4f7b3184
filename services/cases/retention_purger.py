"""The retention purger: a background task of the cases service that deletes for good,
through the case store, the cases their tenant's policy no longer keeps (closed or
deleted more than `retention_days` ago, not on legal hold), with everything that belongs
to them, leaving a tombstone and a `case.purged` message per case.

Tenant by tenant, oldest due case first, each case (with the cases merged into it) in its
own transaction, at most `batch_size` purges per tenant per round. Several cases-service
instances may run it at once: the case store locks without waiting (SKIP LOCKED), so an
instance skips what another is purging, and a purge that was committed is never redone
(the case is gone). A round that purged a full batch is followed at once by the next.

Attachments' objects live in the S3 bucket, outside the purge's transaction. The purge
notes each purged attachment's key in `purged_attachment_objects` inside its transaction,
before the rows go (an outbox of deletions: the note commits or rolls back with the
purge). After the round's purges have committed, the purger works that table off tenant
by tenant, deleting each object and then its note. A failed delete never touches the
purge: the note stays, counts the attempt (`attempts`, `last_attempt_at`) and is logged
(`retention.object_delete_failed`, with tenant and key). A store that does not answer
ends the pass (the rest waits for the next round); one that refuses a key ends only that
tenant's turn. Each round tries notes with fewer failed attempts first, so an object the
store keeps refusing cannot hold up the others. A purger without an object store (or
with one that is down) still purges and leaves the notes. A crash between the commit and
the deletes loses nothing either; two purgers deleting one object both succeed (S3
deletes are idempotent)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from libs.common.background import BackgroundLoop
from libs.common.casestore.purging import PurgeOutcome, RetentionRule
from libs.common.casestore.store import CaseStore
from libs.common.db.engine import SessionFactory, transaction
from libs.common.errors import ObjectStoreUnavailable, StoredObjectMissing
from libs.common.logging import get_logger
from libs.common.objectstore import ObjectStore
from services.cases import retention_repository as repository
from services.cases.retention_repository import START, TenantRetention
from services.cases.settings import RetentionPurgerSettings

log = get_logger(__name__)

ACTOR = "system:retention"
# Notes of purged objects read per query while working them off.
OBJECTS_PAGE = 100
UNREACHABLE = "unreachable"  # a failed delete the store did not answer at all
Clock = Callable[[], datetime]


def wall_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class PurgeRound:
    """What one round did: cases purged (merged ones included) and skips by reason."""

    purged: int = 0
    full: bool = False  # some tenant had more due than one batch
    skipped: dict[str, int] = field(default_factory=dict)
    objects_deleted: int = 0  # purged attachments' objects deleted from the bucket

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


class RetentionPurger:
    def __init__(
        self,
        sessions: SessionFactory,
        store: CaseStore,
        settings: RetentionPurgerSettings,
        *,
        clock: Clock = wall_clock,
        on_purged: Callable[[], None] = lambda: None,
        objects: ObjectStore | None = None,
    ) -> None:
        self._sessions = sessions
        self._store = store
        self._objects = objects
        self._settings = settings
        self._clock = clock
        self._on_purged = on_purged  # wakes the outbox relay after a commit
        self._loop = BackgroundLoop("retention-purger", self.run)

    async def purge_once(self) -> PurgeRound:
        """One round over every tenant with a retention policy."""
        now = self._clock()
        async with self._sessions() as session:
            tenants = await repository.tenants_with_retention(session)
        result = PurgeRound()
        for tenant in tenants:
            await self._purge_tenant(tenant, now, result)
        if result.purged:
            self._on_purged()
        result.objects_deleted = await self.delete_purged_objects()
        if result.purged or result.skipped or result.objects_deleted:
            log.info(
                "retention.round",
                purged=result.purged,
                skipped=result.skipped,
                objects_deleted=result.objects_deleted,
            )
        return result

    async def delete_purged_objects(self) -> int:
        """Delete the objects purges noted, of every tenant; returns how many went. What
        fails stays noted for the next round (module docstring)."""
        if self._objects is None:
            return 0
        async with self._sessions() as session:
            tenants = await repository.tenants_with_purged_objects(session)
        deleted = 0
        for tenant_id in tenants:
            done, stopped = await self._delete_tenant_objects(self._objects, tenant_id)
            deleted += done
            if stopped:
                break
        return deleted

    async def _delete_tenant_objects(
        self, objects: ObjectStore, tenant_id: str
    ) -> tuple[int, bool]:
        """(objects deleted, whether the store was unreachable, which ends the pass)."""
        deleted = 0
        while True:
            async with self._sessions() as session:
                keys = await repository.purged_objects(session, tenant_id, OBJECTS_PAGE)
            gone, failed = await _delete_objects(objects, keys)
            async with transaction(self._sessions) as session:
                await repository.forget_purged_objects(session, tenant_id, gone)
                if failed is not None:
                    attempts = await repository.purged_object_failed(session, tenant_id, failed[0])
            deleted += len(gone)
            if failed is not None:
                log.warning(
                    "retention.object_delete_failed",
                    tenant_id=tenant_id,
                    object_key=failed[0],
                    reason=failed[1],
                    attempts=attempts,
                )
                return deleted, failed[1] == UNREACHABLE
            if len(keys) < OBJECTS_PAGE:
                return deleted, False

    async def _purge_tenant(
        self, tenant: TenantRetention, now: datetime, result: PurgeRound
    ) -> None:
        rule = RetentionRule(
            days=tenant.days,
            policy_version=tenant.policy_version,
            cutoff=now - timedelta(days=tenant.days),
        )
        batch, purged, after = self._settings.batch_size, 0, START
        tried: set[uuid.UUID] = set()
        while purged < batch:
            async with self._sessions() as session:
                due = await repository.due_cases(
                    session, tenant.tenant_id, rule.cutoff, after, batch
                )
            for due_at, case_id in due:
                after = (due_at, case_id)
                if case_id in tried:
                    continue  # closed and deleted: listed twice
                tried.add(case_id)
                outcome = await self._purge_case(tenant.tenant_id, case_id, rule)
                if outcome is None:
                    result.skip("failed")
                    continue
                if outcome.skipped is not None:
                    result.skip(outcome.skipped.value)
                    continue
                purged += 1
                result.purged += len(outcome.purged)
                if purged == batch:
                    result.full = True
                    return
            if len(due) < batch:
                return

    async def _purge_case(
        self, tenant_id: str, case_id: uuid.UUID, rule: RetentionRule
    ) -> PurgeOutcome | None:
        """The case's purge, in its own transaction; None when it failed (rolled back,
        logged, retried next round) so one bad case never stops the others."""
        try:
            async with transaction(self._sessions) as session:
                outcome = await self._store.purge(session, tenant_id, case_id, rule, ACTOR)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("retention.case_failed", tenant_id=tenant_id, case_id=str(case_id))
            return None
        if outcome.skipped is None:
            log.info(
                "retention.case_purged",
                tenant_id=tenant_id,
                case_ids=[str(c) for c in outcome.purged],
                retention_days=rule.days,
                removed=outcome.removed,
            )
        return outcome

    async def run(self) -> None:
        while True:
            full = False
            try:
                full = (await self.purge_once()).full
            except asyncio.CancelledError:
                raise
            except Exception:
                # Postgres away: nothing of the failed transaction was kept; retry later.
                log.exception("retention.round_failed")
            if not full:
                await asyncio.sleep(self._settings.interval_seconds)
            else:
                await asyncio.sleep(0)  # let the service breathe between full rounds

    def start(self) -> None:
        if self._settings.enabled:
            self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()


async def _delete_objects(
    objects: ObjectStore, keys: list[str]
) -> tuple[list[str], tuple[str, str] | None]:
    """Delete the objects in order; returns the keys gone and, if one failed, that key
    with why: the store's refusal code, or UNREACHABLE (those after it were not tried)."""
    gone: list[str] = []
    for key in keys:
        try:
            await objects.delete(key)
        except StoredObjectMissing:
            pass  # already gone, which is what was wanted
        except ObjectStoreUnavailable as error:
            return gone, (key, str(error.details.get("store_code") or UNREACHABLE))
        gone.append(key)
    return gone, None
