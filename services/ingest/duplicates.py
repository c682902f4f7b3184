"""The dedup window of ingest: was this detection id already accepted for this tenant
recently? One Redis round trip per request, whatever the batch size.

It only decides what the response says (`duplicate` instead of `accepted`). A duplicate
is still published: alerting counts it on the stored alert (occurrence count, last
seen). So when Redis is unreachable nothing is lost or double counted; the response just
says `accepted` for a repeat, and the log says why."""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio import Redis

from libs.common.logging import get_logger

log = get_logger(__name__)
KEY_PREFIX = "casestream-dedup"

# SET NX EX per key, all in one script call: 1 where the id is new, 0 where it was seen.
CLAIM_SCRIPT = """
local claimed = {}
for i, key in ipairs(KEYS) do
  claimed[i] = redis.call('SET', key, '1', 'NX', 'EX', ARGV[1]) and 1 or 0
end
return claimed
"""


class DuplicateWindow:
    def __init__(self, redis: Redis, window_seconds: int) -> None:
        self._redis = redis
        self._window_seconds = window_seconds
        self._claim = redis.register_script(CLAIM_SCRIPT)

    async def claim(self, tenant_id: str, detection_ids: Sequence[str]) -> list[bool]:
        """For each id, True if it is new within the window (and now claimed). An id that
        appears twice in one call is new only the first time."""
        if not detection_ids or not self._window_seconds:
            return [True] * len(detection_ids)
        try:
            claimed = await self._claim(
                keys=[_key(tenant_id, d) for d in detection_ids], args=[self._window_seconds]
            )
        except Exception:  # Redis down: report everything as new, loudly (see module doc)
            log.warning("ingest.dedup_unavailable", tenant_id=tenant_id)
            return [True] * len(detection_ids)
        return [bool(flag) for flag in claimed]

    async def release(self, tenant_id: str, detection_ids: Sequence[str]) -> None:
        """Forget claims of detections the broker did not take, so a retry is not a
        duplicate of something that never got in."""
        if not detection_ids or not self._window_seconds:
            return
        try:
            await self._redis.delete(*[_key(tenant_id, d) for d in detection_ids])
        except Exception:
            log.warning("ingest.dedup_release_failed", tenant_id=tenant_id)


def _key(tenant_id: str, detection_id: str) -> str:
    # Tenant ids are ≤64 chars without a separator constraint: length-prefix them.
    return f"{KEY_PREFIX}:{len(tenant_id)}:{tenant_id}:{detection_id}"
