"""The advisory lock of one (tenant, group key). Alerting takes it before reading and
writing a key's grouping slot; the case store takes it before moving a slot to another
case (merge, unmerge). Both take these locks before any case row lock, in ascending id
order, so the two never wait for each other in a cycle."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


def group_lock_id(tenant_id: str, group_key: str) -> int:
    """A stable signed 64-bit advisory-lock id for one (tenant, group key)."""
    digest = hashlib.blake2b(f"{tenant_id}\x00{group_key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


async def lock_group_keys(session: AsyncSession, tenant_id: str, keys: Iterable[str]) -> None:
    # Taken in ascending id order by every writer, so two transactions that share keys
    # wait for each other instead of deadlocking. Held until the transaction ends.
    ids = sorted({group_lock_id(tenant_id, key) for key in keys})
    if not ids:
        return
    await session.execute(
        text(
            "SELECT count(pg_advisory_xact_lock(k)) "
            "FROM (SELECT k FROM unnest(CAST(:ids AS bigint[])) AS k ORDER BY k) AS ordered"
        ),
        {"ids": ids},
    )


async def try_lock_group_keys(session: AsyncSession, tenant_id: str, keys: Iterable[str]) -> bool:
    """Take every key's lock without waiting; False when another transaction holds one
    (the caller then gives up its transaction, which frees the ones it did take). For
    background writers that would rather skip a busy key than queue behind alerting."""
    ids = sorted({group_lock_id(tenant_id, key) for key in keys})
    if not ids:
        return True
    taken = await session.scalar(
        text(
            "SELECT bool_and(pg_try_advisory_xact_lock(k)) "
            "FROM (SELECT k FROM unnest(CAST(:ids AS bigint[])) AS k ORDER BY k) AS ordered"
        ),
        {"ids": ids},
    )
    return bool(taken)
