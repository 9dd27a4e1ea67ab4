"""Sign-in throttle counters in this process: the embedded default for one node."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

# Beyond this many live keys the oldest are forgotten: memory stays bounded
# whatever a flood of addresses does (a forgotten count only starts again).
MAX_KEYS = 200_000


class MemoryThrottleStore:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        # key -> (count, expires at on ``clock``); dicts keep insertion order
        self._keys: dict[str, tuple[int, float]] = {}
        self._sweep_at = 0.0

    def _live(self, key: str, now: float) -> tuple[int, float] | None:
        entry = self._keys.get(key)
        if entry is not None and entry[1] <= now:
            del self._keys[key]
            return None
        return entry

    async def peek(self, keys: Sequence[str]) -> list[tuple[int, float]]:
        now = self.clock()
        out = []
        for key in keys:
            entry = self._live(key, now)
            out.append((entry[0], entry[1] - now) if entry else (0, 0.0))
        return out

    async def hit(self, key: str, window: float) -> tuple[int, float]:
        now = self.clock()
        self._sweep(now)
        entry = self._live(key, now)
        count, expires = (entry[0] + 1, entry[1]) if entry else (1, now + window)
        self._keys[key] = (count, expires)
        return count, expires - now

    async def hold(self, key: str, seconds: float) -> None:
        now = self.clock()
        self._sweep(now)
        self._keys.pop(key, None)
        self._keys[key] = (1, now + seconds)

    async def clear(self, keys: Sequence[str]) -> None:
        for key in keys:
            self._keys.pop(key, None)

    async def close(self) -> None:
        self._keys.clear()

    def _sweep(self, now: float) -> None:
        if now >= self._sweep_at:
            self._sweep_at = now + 60
            self._keys = {k: v for k, v in self._keys.items() if v[1] > now}
        while len(self._keys) >= MAX_KEYS:
            del self._keys[next(iter(self._keys))]
