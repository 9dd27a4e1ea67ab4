"""Anything wrong with chat, moderation or polls."""

from typing import Literal

from pasar.errors import DomainError

# fmt: off
EngagementCode = Literal[
    "not_found",
    "empty_message", "message_too_long", "slow_mode", "muted", "not_held", "not_visible",
    "invalid_term", "term_exists", "invalid_subject",
    "poll_running", "poll_closed", "invalid_option", "already_voted",
]
# fmt: on


class EngagementError(DomainError[EngagementCode]):
    """Anything wrong with chat, moderation or polls."""


class SlowModeWait(EngagementError):
    """Slow mode: this shopper chatted on the show less than its interval ago."""

    def __init__(self, interval_seconds: int, wait: float) -> None:
        super().__init__(
            "rate_limited", "slow_mode", f"slow mode: one message every {interval_seconds} s"
        )
        self.wait = wait
