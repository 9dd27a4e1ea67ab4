"""Sign-in throttle counters in Redis, shared by every node.

Each counter is one key with a time to live (``login:ip:…``, ``login:pair:…``,
``login:acct:…``, ``login:hold:…``); Redis expires them, so nothing is swept.
"""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio import Redis

from pasar import redis_clients

PREFIX = "login:"

# INCR and, for a new key, its expiry, in one step: a key never lives forever.
_HIT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {n, redis.call('PTTL', KEYS[1])}
"""


class RedisThrottleStore:
    def __init__(self, url: str) -> None:
        self.redis: Redis = redis_clients.pooled(
            url, connections=16, wait=10, command_timeout=15, connect_timeout=5
        )
        self._hit = self.redis.register_script(_HIT)

    async def peek(self, keys: Sequence[str]) -> list[tuple[int, float]]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.get(PREFIX + key)
                pipe.pttl(PREFIX + key)
            replies = await pipe.execute()
        out = []
        for value, ttl in zip(replies[::2], replies[1::2], strict=True):
            if value is None or int(ttl) <= 0:
                out.append((0, 0.0))
            else:
                out.append((int(value), int(ttl) / 1000))
        return out

    async def hit(self, key: str, window: float) -> tuple[int, float]:
        count, ttl = await self._hit(keys=[PREFIX + key], args=[int(window * 1000)])
        return int(count), max(int(ttl), 0) / 1000

    async def hold(self, key: str, seconds: float) -> None:
        await self.redis.set(PREFIX + key, 1, px=max(1, int(seconds * 1000)))

    async def clear(self, keys: Sequence[str]) -> None:
        if keys:
            await self.redis.delete(*(PREFIX + k for k in keys))

    async def close(self) -> None:
        await self.redis.aclose()
