"""Purging a case for good under its tenant's retention policy, inside the caller's
transaction: the case, every case merged into it (their alerts moved to it, their story
is its story), and everything that belongs to them, leaving one tombstone per case in
case_purges and one `case.purged` message per case on the bus. Their attachments' objects
are noted in purged_attachment_objects, which the purger works off after the commit.

Nothing here waits for a lock: the group keys' advisory locks are tried, then the cases'
rows are locked with SKIP LOCKED, and a case someone else holds is skipped for now (the
purger comes back on its next tick). So two purgers never purge one case twice, and
neither ever blocks alerting or an analyst. Everything is decided again under the locks:
a case restored, reopened or put on legal hold since it was found is left alone."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.casestore import purge_repository as purges
from libs.common.casestore.events import case_event_outbox_row, event_base
from libs.common.casestore.group_locks import try_lock_group_keys
from libs.common.casestore.repository import insert_events
from libs.common.contracts.cases import CasePurgedV1, CaseStatus
from libs.common.db.models import Case

# The longest the purge waits for any row lock before giving the case up for this round.
LOCK_WAIT_MS = 5_000


@dataclass(frozen=True)
class RetentionRule:
    """The tenant's policy in force: cases closed or deleted at or before `cutoff` (now
    minus `days`) are due."""

    days: int
    policy_version: int
    cutoff: datetime


class PurgeSkipped(StrEnum):
    BUSY = "busy"  # another transaction holds one of the cases or group keys
    CHANGED = "changed"  # gone, or merged into since it was found
    NOT_DUE = "not_due"  # restored or reopened since it was found
    HELD = "held"  # it, or a case merged into it, is on legal hold
    UNPUBLISHED = "unpublished"  # its events are not all on the bus yet


@dataclass
class PurgeOutcome:
    purged: list[uuid.UUID] = field(default_factory=list)
    skipped: PurgeSkipped | None = None
    removed: dict[str, int] = field(default_factory=dict)


Basis = Literal["closed", "deleted", "merged"]


def due_basis(case: Case, cutoff: datetime) -> Basis | None:
    """Why the case is due for purging, if it is: closed, or deleted, long enough ago
    (whichever came first; deleting a closed case does not restart its clock)."""
    if case.legal_hold_since is not None:
        return None
    closed = case.closed_at if case.status == CaseStatus.CLOSED else None
    if closed is not None and closed <= cutoff:
        return "closed"
    if case.deleted_at is not None and case.deleted_at <= cutoff:
        return "deleted"
    return None


async def purge_case(
    session: AsyncSession,
    source: str,
    tenant_id: str,
    case_id: uuid.UUID,
    rule: RetentionRule,
    actor: str,
) -> PurgeOutcome:
    """Purge the case and its merge family if, under their locks, it is still due; on a
    skip nothing was written. Meant for a transaction of its own: it limits the
    transaction's lock waits (LOCK_WAIT_MS) and keeps the locks it took until the end."""
    await purges.limit_lock_waits(session, LOCK_WAIT_MS)
    family = await purges.merge_family(session, tenant_id, case_id)
    if not family:
        return PurgeOutcome(skipped=PurgeSkipped.CHANGED)
    keys = await purges.slot_keys(session, tenant_id, sorted(family))
    if not await try_lock_group_keys(session, tenant_id, keys):
        return PurgeOutcome(skipped=PurgeSkipped.BUSY)
    cases = await purges.lock_cases_or_skip(session, tenant_id, sorted(family))
    if set(cases) != family:
        return PurgeOutcome(skipped=PurgeSkipped.BUSY)
    skipped = await _refusal(session, tenant_id, cases, case_id, keys, rule)
    if skipped is not None:
        return PurgeOutcome(skipped=skipped)
    root = cases[case_id]
    basis = due_basis(root, rule.cutoff)
    assert basis is not None  # checked by _refusal
    return await _purge(session, source, root, basis, list(cases.values()), rule, actor)


async def _refusal(
    session: AsyncSession,
    tenant_id: str,
    cases: dict[uuid.UUID, Case],
    root: uuid.UUID,
    keys: set[str],
    rule: RetentionRule,
) -> PurgeSkipped | None:
    if any(case.legal_hold_since is not None for case in cases.values()):
        return PurgeSkipped.HELD
    if due_basis(cases[root], rule.cutoff) is None:
        return PurgeSkipped.NOT_DUE
    # Under the locks no case can join the family and no slot can move to it, but both
    # may have happened between the first reads and the locks.
    ids = sorted(cases)
    if await purges.merge_family(session, tenant_id, root) != set(cases):
        return PurgeSkipped.CHANGED
    if not await purges.slot_keys(session, tenant_id, ids) <= keys:
        return PurgeSkipped.CHANGED
    if await purges.unpublished_events(session, tenant_id, ids):
        return PurgeSkipped.UNPUBLISHED
    return None


async def _purge(
    session: AsyncSession,
    source: str,
    root: Case,
    basis: Basis,
    cases: list[Case],
    rule: RetentionRule,
    actor: str,
) -> PurgeOutcome:
    tenant_id, ids = root.tenant_id, sorted(case.id for case in cases)
    # The bucket is not part of this transaction: its objects are deleted after the
    # commit, from what this records (services/cases/retention_purger.py).
    await purges.record_attachment_objects(session, tenant_id, ids)
    removed = await purges.delete_dependents(session, tenant_id, ids)
    removed[purges.AUDIT_TABLE] = await purges.count_events(session, tenant_id, ids)
    removed[purges.CASES_TABLE] = {case_id: 1 for case_id in ids}
    per_case = {
        case.id: {table: rows.get(case.id, 0) for table, rows in removed.items()} for case in cases
    }
    due_since = root.closed_at if basis == "closed" else root.deleted_at
    assert due_since is not None
    # Tombstones first: they are what licenses deleting each case's audit events.
    await purges.insert_tombstones(
        session,
        [_tombstone(case, root, basis, rule, actor, per_case[case.id]) for case in cases],
    )
    for case in cases:
        deleted = await purges.delete_case_events(session, tenant_id, case.id)
        assert deleted == per_case[case.id][purges.AUDIT_TABLE], "events changed under lock"
    await purges.delete_cases(session, tenant_id, ids)
    messages = [
        case_event_outbox_row(
            source,
            CasePurgedV1(
                **event_base(case, actor),
                basis=basis if case.id == root.id else "merged",
                retention_days=rule.days,
                policy_version=rule.policy_version,
                due_since=due_since,
                purged_with=None if case.id == root.id else root.id,
                removed=per_case[case.id],
            ),
        )
        for case in cases
    ]
    await insert_events(session, [], messages)
    totals = {table: sum(rows.values()) for table, rows in removed.items()}
    return PurgeOutcome(purged=ids, removed=totals)


def _tombstone(
    case: Case, root: Case, basis: Basis, rule: RetentionRule, actor: str, removed: dict[str, int]
) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "tenant_id": case.tenant_id,
        "case_id": case.id,
        "case_number": case.number,
        "basis": basis if case.id == root.id else "merged",
        "closed_at": case.closed_at,
        "deleted_at": case.deleted_at,
        "purged_with": None if case.id == root.id else root.id,
        "retention_days": rule.days,
        "policy_version": rule.policy_version,
        "purged_by": actor,
        "removed": removed,
    }
