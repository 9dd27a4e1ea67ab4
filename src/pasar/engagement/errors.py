from pasar.errors import DomainError


class EngagementError(DomainError):
    """Anything wrong with chat, moderation or polls."""


class SlowModeWait(EngagementError):
    """Slow mode: this shopper chatted on the show less than its interval ago."""

    def __init__(self, interval_seconds: int, wait: float) -> None:
        super().__init__(
            "rate_limited", "slow_mode", f"slow mode: one message every {interval_seconds} s"
        )
        self.wait = wait
