"""Issuing, listing, revoking and resolving API keys.

Resolution is cached for a few seconds per key, so a busy source costs one query per
TTL rather than one per request; a revocation takes effect within that TTL."""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.apikeys import repository
from libs.common.db.engine import SessionFactory
from libs.common.db.models import ApiKey
from libs.common.errors import NotFound

KEY_MARK = "csk"
CACHE_LIMIT = 10_000


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class ResolvedKey:
    tenant_id: str
    source: str
    prefix: str


@dataclass(frozen=True)
class IssuedKey:
    record: ApiKey
    key: str  # the only time the key exists outside its owner's hands


async def issue_key(
    session: AsyncSession,
    *,
    tenant_id: str,
    source: str,
    description: str | None,
    created_by: str,
) -> IssuedKey:
    prefix = secrets.token_hex(4)
    key = f"{KEY_MARK}_{prefix}_{secrets.token_urlsafe(32)}"
    record = await repository.insert_key(
        session,
        {
            "id": uuid.uuid4(),
            "tenant_id": tenant_id,
            "source": source,
            "description": description,
            "prefix": prefix,
            "digest": key_digest(key),
            "created_by": created_by,
        },
    )
    return IssuedKey(record, key)


async def list_keys(session: AsyncSession, tenant_id: str) -> list[ApiKey]:
    return await repository.list_keys(session, tenant_id)


async def revoke_key(session: AsyncSession, tenant_id: str, key_id: uuid.UUID) -> ApiKey:
    record = await repository.revoke_key(session, tenant_id, key_id)
    if record is None:
        raise NotFound("API key not found", key_id=str(key_id))
    return record


class KeyResolver:
    def __init__(self, sessions: SessionFactory, cache_seconds: float = 10.0) -> None:
        self._sessions = sessions
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[ResolvedKey, float]] = {}

    async def resolve(self, key: str) -> ResolvedKey | None:
        if not key.startswith(f"{KEY_MARK}_"):
            return None  # not one of ours: no query for random strings
        digest = key_digest(key)
        cached = self._cache.get(digest)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        async with self._sessions() as session:
            record = await repository.active_key_by_digest(session, digest)
        if record is None:
            self._cache.pop(digest, None)
            return None
        resolved = ResolvedKey(record.tenant_id, record.source, record.prefix)
        if len(self._cache) >= CACHE_LIMIT:
            self._cache.clear()
        self._cache[digest] = (resolved, time.monotonic() + self._cache_seconds)
        return resolved
