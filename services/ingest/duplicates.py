"""The dedup window of ingest: was this detection id already accepted for this tenant
recently? One Redis round trip per request, whatever the batch size.

It only decides what the response says (`duplicate` instead of `accepted`). A duplicate
is still published: alerting counts it on the stored alert (occurrence count, last
seen). So when Redis is unreachable nothing is lost or double counted; the response just
says `accepted` for a repeat, and the log says why."""

from __future__ import annotations

import json
from collections.abc import Sequence

from redis.asyncio import Redis

from libs.common.logging import get_logger

log = get_logger(__name__)
KEY_PREFIX = "casestream-dedup"

# SET NX EX per id, all in one script call; the answer is a string of '1' (new) and '0'
# (seen). The ids travel as one JSON argument and the keys are built in Lua: packing a
# thousand separate arguments in redis-py cost ~9 µs each, more than the rest of ingest's
# work per detection. (So the keys are not declared: fine on one Redis, not on a cluster.)
CLAIM_SCRIPT = """
local prefix, seconds = ARGV[1], ARGV[2]
local ids = cjson.decode(ARGV[3])
local claimed = {}
for i, id in ipairs(ids) do
  claimed[i] = redis.call('SET', prefix .. id, '1', 'NX', 'EX', seconds) and '1' or '0'
end
return table.concat(claimed)
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
                keys=[],
                args=[_prefix(tenant_id), self._window_seconds, json.dumps(list(detection_ids))],
            )
        except Exception:  # Redis down: report everything as new, loudly (see module doc)
            log.warning("ingest.dedup_unavailable", tenant_id=tenant_id)
            return [True] * len(detection_ids)
        return [flag == ord("1") for flag in claimed]

    async def release(self, tenant_id: str, detection_ids: Sequence[str]) -> None:
        """Forget claims of detections the broker did not take, so a retry is not a
        duplicate of something that never got in."""
        if not detection_ids or not self._window_seconds:
            return
        try:
            await self._redis.delete(*[_prefix(tenant_id) + d for d in detection_ids])
        except Exception:
            log.warning("ingest.dedup_release_failed", tenant_id=tenant_id)


def _prefix(tenant_id: str) -> str:
    # Tenant ids are ≤64 chars without a separator constraint: length-prefix them.
    return f"{KEY_PREFIX}:{len(tenant_id)}:{tenant_id}:"
