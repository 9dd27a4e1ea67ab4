"""Failed studio sign-ins, counted per address and per account, and refused for a while.

The design (docs/api.md, Authentication, says the same to vendors):

- **Per address** (``ip``): failed sign-ins from one address, whatever the
  accounts, in a window (15 min). Past the limit the address is refused until
  the window ends. This is the strict limit: it stops one machine guessing.
- **Per account and address** (``pair``): failed sign-ins of one account from
  one address, a lower limit in the same window. It stops one address guessing
  one account, and it is the only limit keyed on the account that can refuse
  for long, so an attacker's address is refused while the owner, elsewhere, is
  not.
- **Per account** (``acct``): failed sign-ins of one account from anywhere. Only
  after many does it start a short backoff (``hold``) that doubles with each
  further failure and is capped (60 s), so guessing spread over many addresses
  is slowed while the real owner waits at most the cap.
- A successful sign-in clears its pair and the account's count and backoff. It
  does not clear the address's count: someone holding one working login could
  otherwise reset their address between guesses at other accounts.

A refused attempt is answered before any password is checked (no argon2 spent)
and is not counted, so waiting out the time is always enough.

Counters live in one ``ThrottleStore``: in process (one node), or in Redis when
``PASAR_REDIS_URL`` is set, so every node sees the same counts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from pasar.netaddr import client_key
from pasar.settings import Settings
from pasar.vendors.credentials import token_hash
from pasar.vendors.errors import VendorError


class ThrottleStore(Protocol):
    """Counters that expire: each key has a count and a time left (seconds)."""

    async def peek(self, keys: Sequence[str]) -> list[tuple[int, float]]:
        """(count, seconds left) of each key; (0, 0.0) for one that is not there."""
        ...

    async def hit(self, key: str, window: float) -> tuple[int, float]:
        """Count one more; a new key lives ``window`` seconds from its first hit."""
        ...

    async def hold(self, key: str, seconds: float) -> None:
        """Set the key to 1 for ``seconds`` from now, whatever it was."""
        ...

    async def clear(self, keys: Sequence[str]) -> None: ...

    async def close(self) -> None: ...


@dataclass(frozen=True)
class Policy:
    window_seconds: float = 15 * 60
    per_ip: int = 30
    per_account_ip: int = 5
    account_free: int = 10
    backoff_max_seconds: float = 60.0

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        return cls(
            per_ip=settings.login_failures_per_ip,
            per_account_ip=settings.login_failures_per_account,
        )


class LoginThrottle:
    def __init__(self, store: ThrottleStore, policy: Policy | None = None) -> None:
        self.store = store
        self.policy = policy or Policy()

    def _keys(self, email: str, ip: str) -> tuple[str, str, str, str]:
        account = token_hash(email.strip().lower())[:32]
        who = client_key(ip)
        return f"ip:{who}", f"pair:{account}:{who}", f"acct:{account}", f"hold:{account}"

    async def check(self, email: str, ip: str) -> None:
        """Refuse (429) while the address, the pair or the account is held back."""
        ip_key, pair, _, hold = self._keys(email, ip)
        (ip_n, ip_left), (pair_n, pair_left), (held, hold_left) = await self.store.peek(
            [ip_key, pair, hold]
        )
        wait = max(
            ip_left if ip_n >= self.policy.per_ip else 0.0,
            pair_left if pair_n >= self.policy.per_account_ip else 0.0,
            hold_left if held else 0.0,
        )
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            raise VendorError(
                "rate_limited",
                "too_many_attempts",
                f"Too many sign-in attempts; try again in {seconds} s.",
                {"retry_after": seconds},
            )

    async def failed(self, email: str, ip: str) -> None:
        ip_key, pair, account, hold = self._keys(email, ip)
        window = self.policy.window_seconds
        await self.store.hit(ip_key, window)
        await self.store.hit(pair, window)
        count, _ = await self.store.hit(account, window)
        over = count - self.policy.account_free
        if over > 0:
            backoff = min(2.0 ** min(over - 1, 30), self.policy.backoff_max_seconds)
            await self.store.hold(hold, backoff)

    async def succeeded(self, email: str, ip: str) -> None:
        _, pair, account, hold = self._keys(email, ip)
        await self.store.clear([pair, account, hold])


def make_store(settings: Settings) -> ThrottleStore:
    if settings.redis_url:
        from pasar.vendors.throttle_redis import RedisThrottleStore

        return RedisThrottleStore(settings.redis_url)
    from pasar.vendors.throttle_memory import MemoryThrottleStore

    return MemoryThrottleStore()
