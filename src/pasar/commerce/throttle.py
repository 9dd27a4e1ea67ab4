"""Rate limits on the Storefront's cheap-to-abuse calls: minting guests and claiming.

Each limit is a count per minute for a key (``claim:ip:<address>``,
``claim:shopper:<id>``, ``guest:ip:<address>``). With Redis configured the count
is one fixed-window counter per key shared by every node (``INCR`` and, on the
first hit, ``PEXPIRE``), so a bot spreading its calls over nodes gets no more;
the hits arriving together go to Redis in one pipeline (``batching.Batcher``);
without Redis it is a per-node token bucket (``realtime.limits.Bucket``, as chat
and likes use). A refused call is not counted, and says how long to wait.

Redis unreachable: the limit is skipped (logged), never the call refused; a
shop's flash sale matters more than a bot's extra claims for a few seconds.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from pasar import redis_clients
from pasar.commerce.batching import Batcher
from pasar.commerce.errors import CommerceCode, CommerceError
from pasar.realtime.limits import Bucket

log = structlog.get_logger()

WINDOW_SECONDS = 60.0
PREFIX = "throttle:"
SWEEP_SECONDS = 60.0

# Count one hit unless the key is at the limit; returns {allowed, ms left in window}.
# One key per call, so the keys of a batch may live on different Redis Cluster shards.
_HIT = """
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n >= tonumber(ARGV[1]) then return {0, redis.call('PTTL', KEYS[1])} end
n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return {1, 0}
"""
MAX_BATCH = 200  # hits sent in one pipeline


@dataclass(frozen=True, slots=True)
class Rule:
    code: CommerceCode  # the error code a refusal answers with
    message: str  # "too many …" (the wait is appended)


GUESTS_PER_IP = Rule("too_many_guests", "too many new guests from this address")
CLAIMS_PER_IP = Rule("too_many_claims", "too many claims from this address")
CLAIMS_PER_SHOPPER = Rule("too_many_claims", "too many claims from this shopper")


class Throttle:
    def __init__(self, redis_url: str | None) -> None:
        self.redis: Redis | None = None
        if redis_url:
            self.redis = redis_clients.pooled(
                redis_url, connections=16, wait=5, command_timeout=5, connect_timeout=2
            )
            self._hit = self.redis.register_script(_HIT)
        # Hits arriving together (a flash sale's claims) go in one pipeline: a
        # round trip per batch instead of one per claim and rule.
        self._batcher: Batcher[tuple[str, int], float] = Batcher(
            self._take_batch, max_batch=MAX_BATCH, name="pasar-throttle"
        )
        self._buckets: dict[str, Bucket] = {}
        self._sweep_at = time.monotonic() + SWEEP_SECONDS

    async def check(self, rule: Rule, key: str, per_minute: int) -> None:
        """Count one call for ``key``, or raise 429 saying when to come back."""
        wait = await self._take(key, per_minute)
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            raise CommerceError(
                "rate_limited",
                rule.code,
                f"{rule.message}; try again in {seconds} s",
                {"retry_after": seconds, "limit_per_minute": per_minute},
            )

    async def _take(self, key: str, per_minute: int) -> float:
        if self.redis is not None:
            return await self._batcher.submit("hits", (key, per_minute))
        self._sweep()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = Bucket(per_minute / WINDOW_SECONDS, per_minute)
        return bucket.take()

    async def _take_batch(self, _: str, hits: list[tuple[str, int]]) -> list[float]:
        """Seconds to wait per hit (0: counted), the batch's scripts in one pipeline
        (each one atomic for its key, run in the order of the hits)."""
        assert self.redis is not None
        window_ms = int(WINDOW_SECONDS * 1000)
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for key, limit in hits:
                    await self._hit(keys=[PREFIX + key], args=[limit, window_ms], client=pipe)
                found = await pipe.execute()
        except (RedisError, OSError) as exc:
            keys = [key for key, _ in hits[:3]]
            log.warning("rate limit skipped: redis unavailable", keys=keys, error=repr(exc))
            return [0.0] * len(hits)
        return [0.0 if int(allowed) else max(int(ttl_ms), 1000) / 1000 for allowed, ttl_ms in found]

    def _sweep(self) -> None:
        """Forget idle buckets (full again by now) so the map stays small."""
        now = time.monotonic()
        if now < self._sweep_at:
            return
        self._sweep_at = now + SWEEP_SECONDS
        for key in [k for k, b in self._buckets.items() if now - b.stamp > WINDOW_SECONDS]:
            del self._buckets[key]

    async def close(self) -> None:
        await self._batcher.close()
        if self.redis is not None:
            await self.redis.aclose()
