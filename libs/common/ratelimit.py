"""Rate limits per API key and per tenant, counted in detections, kept in Redis.

A request over either limit is refused whole with 429 and Retry-After: never a silent
drop. If Redis is unreachable the limiter lets traffic through and says so in the log:
losing detections would be worse than briefly not limiting them."""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse
from limits.aio.storage import RedisStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter

from libs.common.errors import DomainError
from libs.common.logging import get_logger

log = get_logger(__name__)


class RateLimited(DomainError):
    code = "rate_limited"
    status_code = 429


class DetectionRateLimiter:
    def __init__(self, redis_url: str, per_key: str, per_tenant: str) -> None:
        # redis-py underneath: already a dependency, and it speaks to any Redis we run.
        storage = RedisStorage(
            f"async+{redis_url}", implementation="redispy", key_prefix="casestream-limits"
        )
        self._limiter = SlidingWindowCounterRateLimiter(storage)
        self._per_key: RateLimitItem = parse(per_key)
        self._per_tenant: RateLimitItem = parse(per_tenant)

    async def consume(self, tenant_id: str, key_name: str, detections: int) -> None:
        """Count `detections` against both limits, or raise RateLimited counting nothing."""
        checks = [
            ("key", self._per_key, (tenant_id, key_name)),
            ("tenant", self._per_tenant, (tenant_id,)),
        ]
        try:
            for scope, item, identifiers in checks:
                if not await self._limiter.test(item, *identifiers, cost=detections):
                    await self._refuse(scope, item, identifiers, detections)
            for _, item, identifiers in checks:
                await self._limiter.hit(item, *identifiers, cost=detections)
        except RateLimited:
            raise
        except Exception:  # Redis down or unreachable: fail open, loudly
            log.warning("ratelimit.unavailable", tenant_id=tenant_id)

    async def _refuse(
        self, scope: str, item: RateLimitItem, identifiers: tuple[str, ...], detections: int
    ) -> None:
        stats = await self._limiter.get_window_stats(item, *identifiers)
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        raise RateLimited(
            f"rate limit per {scope} exceeded ({item}); retry later",
            scope=scope,
            limit=str(item),
            requested=detections,
            retry_after_seconds=retry_after,
        ).with_headers({"Retry-After": str(retry_after)})
