"""The stock engine interface: how a claim is admitted and recorded.

Two engines, chosen once from settings (``PASAR_STOCK_ENGINE``):

- ``sql`` (default): every claim goes straight to the ledger's group commit.
- ``redis``: an atomic Lua script admits or refuses each claim first, so a
  sold-out deal's flood of refusals never reaches the database; admitted claims
  are then recorded by the same group commit before the shopper is answered.

Either way the database decides under the deal's row lock, so no engine state
(a lost Redis, a killed node) can make a deal oversell; the Redis engine's
counters are an admission filter that the reconciler restores from the record.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from pasar.commerce.ledger import Claim, DealTerms, Outcome


class StockEngine(Protocol):
    name: str

    async def claim(self, terms: DealTerms, claim: Claim) -> Outcome:
        """Reserve the claim's units or refuse it; recorded before returning."""
        ...

    async def units_left(self, deal_id: str) -> int | None:
        """Units the record says can still be claimed, as shoppers are shown them
        (None: unknown deal)."""
        ...

    async def returned(self, deal_id: str, remaining: int, by_shopper: Mapping[str, int]) -> None:
        """Units came back (a hold expired or was released): ``remaining`` is
        the record's count afterwards, ``by_shopper`` each shopper's units now."""
        ...

    async def closed(self, deal_id: str) -> None:
        """The deal ended: nothing more can be claimed."""
        ...

    async def reconcile(self) -> None:
        """Bring engine state back in line with the record (called periodically)."""
        ...

    async def close(self) -> None: ...
