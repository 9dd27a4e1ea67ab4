"""Token buckets for chat, likes and votes: per connection and per IP, per node."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass(slots=True)
class Bucket:
    rate: float  # tokens per second
    burst: float
    tokens: float = -1.0
    stamp: float = field(default_factory=time.monotonic)

    def take(self, n: float = 1.0) -> float:
        """0.0 when allowed; otherwise the seconds to wait before trying again."""
        now = time.monotonic()
        if self.tokens < 0:
            self.tokens = self.burst
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= n:
            self.tokens -= n
            return 0.0
        return (n - self.tokens) / self.rate


@dataclass(frozen=True)
class Limit:
    rate: float
    burst: float

    def bucket(self) -> Bucket:
        return Bucket(self.rate, self.burst)


CHAT_PER_CONN = Limit(rate=1.0, burst=5)
CHAT_PER_IP = Limit(rate=5.0, burst=20)
LIKES_PER_CONN = Limit(rate=10.0, burst=50)
LIKES_PER_IP = Limit(rate=100.0, burst=300)
VOTES_PER_CONN = Limit(rate=2.0, burst=5)
# Votes are one per identity, but guests are free to mint: without this, one
# address could vote, reconnect as a new guest and vote again without end.
# 20 at once covers a household or an office; then one every 2 s.
VOTES_PER_IP = Limit(rate=0.5, burst=20)
# Breaking limits this often means a misbehaving client: it is disconnected.
VIOLATIONS = Limit(rate=1.0, burst=20)


class IpLimits:
    """Per-IP buckets, forgotten when idle so the map stays small."""

    def __init__(self) -> None:
        self._chat: dict[str, Bucket] = {}
        self._likes: dict[str, Bucket] = {}
        self._votes: dict[str, Bucket] = {}
        self._sweep_at = time.monotonic() + 60

    def chat(self, ip: str) -> Bucket:
        self._sweep()
        return self._chat.setdefault(ip, CHAT_PER_IP.bucket())

    def likes(self, ip: str) -> Bucket:
        self._sweep()
        return self._likes.setdefault(ip, LIKES_PER_IP.bucket())

    def votes(self, ip: str) -> Bucket:
        self._sweep()
        return self._votes.setdefault(ip, VOTES_PER_IP.bucket())

    def _sweep(self) -> None:
        now = time.monotonic()
        if now < self._sweep_at:
            return
        self._sweep_at = now + 60
        for table in (self._chat, self._likes, self._votes):
            for ip in [ip for ip, b in table.items() if now - b.stamp > 120]:
                del table[ip]


class IpSockets:
    """Open show sockets per client address on this node, capped (0: no cap).

    A socket counts from its accept to its end, including while it has not yet
    sent its credentials, so nobody can hold slots without being counted."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self._open: dict[str, int] = {}

    def acquire(self, ip: str) -> bool:
        n = self._open.get(ip, 0)
        if self.cap and n >= self.cap:
            return False
        self._open[ip] = n + 1
        return True

    def release(self, ip: str) -> None:
        n = self._open.get(ip, 0) - 1
        if n > 0:
            self._open[ip] = n
        else:
            self._open.pop(ip, None)

    def open(self, ip: str) -> int:
        return self._open.get(ip, 0)


class SlowMode:
    """When each identity last chatted on each show (this node)."""

    def __init__(self) -> None:
        self._last: dict[tuple[str, str], float] = {}

    def wait(self, show_id: str, who: str, seconds: int) -> float:
        if seconds <= 0:
            return 0.0
        now = time.monotonic()
        last = self._last.get((show_id, who))
        if last is not None and now - last < seconds:
            return seconds - (now - last)
        self._last[(show_id, who)] = now
        if len(self._last) > 100_000:
            horizon = now - 3600
            self._last = {k: v for k, v in self._last.items() if v > horizon}
        return 0.0
