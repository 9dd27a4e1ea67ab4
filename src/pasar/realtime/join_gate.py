"""Joins admitted in the time the fan-out leaves them.

A join costs the loop a few milliseconds (the handshake, who you are, a
snapshot of ~10 kB); the tick's fan-out to 10,000 sockets costs tens. When
5,000 viewers arrive at once (a push notification, a host's "everyone come
now") and every join runs as soon as it arrives, the loop has no time left for
the ticks: the viewers already watching got their chat seconds late. So joins
wait at the gate, and each tick lets in an *allowance* of them, sized by how
late the tick itself started (a loop with work queued behind it wakes late):

- a tick on time, with the allowance used up: the allowance grows;
- a tick late by more than ``late_seconds``: the allowance halves.

That is TCP's additive increase, multiplicative decrease, on loop lateness.
An idle node grows to ``most`` joins a tick within a couple of seconds; a
waiting joiner holds no more than its socket. Joiners are let in first come,
first served.
"""

from __future__ import annotations

import asyncio
from collections import deque


class JoinGate:
    def __init__(
        self,
        *,
        start: int = 20,
        least: int = 2,
        most: int = 200,
        step: int = 10,
        late_seconds: float = 0.025,
    ) -> None:
        self.allowance = start
        self.least = least
        self.most = most
        self.step = step
        self.late_seconds = late_seconds
        self.left = start  # joins this tick may still let in
        self.admitted = 0
        self._queue: deque[asyncio.Future[None]] = deque()

    @property
    def waiting(self) -> int:
        return sum(1 for f in self._queue if not f.done())

    async def enter(self) -> None:
        """Wait for this joiner's turn."""
        if self.left > 0 and not self._queue:
            self.left -= 1
            self.admitted += 1
            return
        future = asyncio.get_running_loop().create_future()
        self._queue.append(future)
        await future  # cancelled (the joiner left): the tick skips it

    def tick(self, lateness: float) -> None:
        """A tick started ``lateness`` seconds after it was due: set this
        tick's allowance and let that many waiting joiners in."""
        if lateness > self.late_seconds:
            self.allowance = max(self.least, self.allowance // 2)
        elif self.left == 0:  # on time and the allowance was used up
            self.allowance = min(self.most, self.allowance + self.step)
        self.left = self.allowance
        queue = self._queue
        while queue and self.left > 0:
            future = queue.popleft()
            if future.done():
                continue
            future.set_result(None)
            self.left -= 1
            self.admitted += 1
