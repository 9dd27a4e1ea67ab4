"""When a failed delivery is tried again: pure functions, so tests need no clock.

Ten attempts: the first at once, then retries after 5 s, 30 s, 2 min, 10 min, 30 min,
1 h, 3 h, 6 h and 14 h. Each wait is stretched by a random 0–50 % (jitter, so the
deliveries queued for an endpoint that comes back do not all land in the same
second). Jitter only lengthens waits, so the last retry comes at least 24 h 42 min
after the first attempt (at most about 37 h), which is what the at-least-24-hours
guarantee needs; jitter that could shorten waits ("full jitter") could not keep it.
"""

from __future__ import annotations

import email.utils
from datetime import datetime, timedelta

from pasar.clock import as_utc

RETRY_DELAYS: tuple[timedelta, ...] = (
    timedelta(seconds=5),
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(minutes=30),
    timedelta(hours=1),
    timedelta(hours=3),
    timedelta(hours=6),
    timedelta(hours=14),
)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
JITTER = 0.5
# A Retry-After further away than this is taken as this.
MAX_RETRY_AFTER = timedelta(hours=24)


def retry_delay(attempts: int, rand: float) -> timedelta | None:
    """The wait after ``attempts`` attempts have failed, with ``rand`` in [0, 1) as
    the jitter; None when none is left."""
    if attempts < 1 or attempts >= MAX_ATTEMPTS:
        return None
    return RETRY_DELAYS[attempts - 1] * (1 + JITTER * rand)


def shortest_span() -> timedelta:
    """First attempt to last, with no jitter and no Retry-After."""
    return sum(RETRY_DELAYS, timedelta())


def retry_after(value: str | None, now: datetime) -> timedelta | None:
    """A ``Retry-After`` header (seconds, or an HTTP date) as a wait from ``now``,
    capped at ``MAX_RETRY_AFTER``; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        seconds = int(value[:12])  # anything that long is past the cap anyway
        wait = timedelta(seconds=min(seconds, int(MAX_RETRY_AFTER.total_seconds())))
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        wait = as_utc(when) - as_utc(now)
    return min(max(wait, timedelta()), MAX_RETRY_AFTER)
