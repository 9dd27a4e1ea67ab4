"""Reads that a crowd shares: one in flight per key, its result kept a moment.

When 10,000 viewers join a show within a minute, each asking the database (or
Redis) the same question answered the same way is most of what a join costs.
``SharedReads`` asks once per key: callers arriving while a read is in flight
wait for it, and the result is kept for ``ttl`` seconds (0: kept for no one,
though concurrent callers still share the read in flight). A failed read is
kept for no one: every caller waiting on it gets the error, the next one tries
again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SharedReads(Generic[K, V]):
    def __init__(self, ttl: float, limit: int = 10_000) -> None:
        self.ttl = ttl
        self.limit = limit  # keys kept at most (shows long over are forgotten)
        self.reads = 0  # how many reads were made (tests read it)
        self._held: dict[K, tuple[float, V]] = {}
        self._flight: dict[K, asyncio.Task[V]] = {}

    async def get(self, key: K, read: Callable[[], Awaitable[V]]) -> V:
        held = self._held.get(key)
        if held is not None and time.monotonic() - held[0] < self.ttl:
            return held[1]
        flying = self._flight.get(key)
        if flying is None:
            # Its own task: a caller that gives up (a viewer who left
            # mid-join) cancels its wait, never the read the others wait for.
            self.reads += 1
            flying = asyncio.ensure_future(self._read(key, read))
            flying.add_done_callback(_retrieve)
            self._flight[key] = flying
        return await asyncio.shield(flying)

    async def _read(self, key: K, read: Callable[[], Awaitable[V]]) -> V:
        try:
            value = await read()
        finally:
            # Forgotten meanwhile (``forget``): its callers get it, no one else.
            current = self._flight.get(key) is asyncio.current_task()
            if current:
                del self._flight[key]
        if current and self.ttl > 0:
            if len(self._held) >= self.limit:
                self._held.clear()
            self._held[key] = (time.monotonic(), value)
        return value

    def forget(self, key: K | None = None) -> None:
        """The next read of ``key`` (every key: None) starts afresh: what is held
        is dropped, and a read in flight (which may be stale: it started before
        the change that made the caller forget) is left to its own callers."""
        if key is None:
            self._held.clear()
            self._flight.clear()
        else:
            self._held.pop(key, None)
            self._flight.pop(key, None)


def _retrieve(task: asyncio.Task[object]) -> None:
    """Every waiter may have given up: the read's error is theirs, not a log line's."""
    if not task.cancelled():
        task.exception()
