"""Whether a Redis answers: the dev stack runs without one, with a warning."""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.exceptions import RedisError


async def redis_answers(url: str, connect_timeout: float = 1.0) -> bool:
    client = aioredis.from_url(
        url, socket_connect_timeout=connect_timeout, socket_timeout=connect_timeout
    )
    try:
        return bool(await client.ping())
    except (RedisError, OSError):
        return False
    finally:
        await client.aclose()
