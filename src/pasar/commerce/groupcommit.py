"""Group commit: claims for one deal arriving together share one transaction.

Each deal has at most one transaction under way per process; claims arriving
meanwhile go together in the next one (``batching.Batcher``, up to
``max_batch``): one claim alone is written at once, a burst of thousands a few
hundred at a time, one deal-row lock and one commit per batch. The lock is
taken at the end of the transaction (``ledger.try_reserve_batch``), so batches
from several nodes overlap; a batch that met another writer's change is redone
with the lock taken first (``ledger.reserve_batch``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from pasar.clock import utcnow
from pasar.commerce.batching import Batcher
from pasar.commerce.ledger import Claim, DealTerms, Outcome, reserve_batch, try_reserve_batch
from pasar.db.engine import Database

log = structlog.get_logger()

# Called after each committed batch (outside the transaction): engines update
# their counters, the ticker schedules ``deal.updated``, webhooks are nudged.
AfterCommit = Callable[[DealTerms, Sequence[Claim], Sequence[Outcome]], Awaitable[None]]
# Called inside the transaction with the new reservations (the webhook outbox).
InTransaction = Callable[[AsyncSession, DealTerms, list[Outcome]], Awaitable[None]]


class GroupCommit:
    def __init__(
        self,
        db: Database,
        *,
        max_batch: int = 500,
        in_transaction: InTransaction | None = None,
        after_commit: AfterCommit | None = None,
    ) -> None:
        self.db = db
        self.in_transaction = in_transaction
        self.after_commit = after_commit
        self.redone = 0  # batches whose lock-free attempt had to be redone under the lock
        self._batcher: Batcher[tuple[DealTerms, Claim], Outcome] = Batcher(
            self._commit, max_batch=max_batch, name="pasar-claims"
        )

    @property
    def batches(self) -> int:
        return self._batcher.batches

    @property
    def claims(self) -> int:
        return self._batcher.items

    async def submit(self, terms: DealTerms, claim: Claim) -> Outcome:
        return await self._batcher.submit(terms.id, (terms, claim))

    async def _commit(self, _: str, batch: list[tuple[DealTerms, Claim]]) -> list[Outcome]:
        terms = batch[0][0]
        claims = [claim for _, claim in batch]
        try:
            async with self.db.session() as db:
                now = utcnow()
                found = await try_reserve_batch(db, terms, claims, now)
                if found is None:  # another writer came between the reads and the lock
                    await db.rollback()
                    self.redone += 1
                    found = await reserve_batch(db, terms, claims, now)
                outcomes = found
                if self.in_transaction is not None:
                    await self.in_transaction(db, terms, outcomes)
                await db.commit()
        except Exception as exc:
            # Nothing of this batch is known to be recorded: every claim in it
            # fails (retrying with the same key is safe, whatever happened).
            log.warning("claim batch failed", deal_id=terms.id, size=len(batch), error=str(exc))
            raise
        if self.after_commit is not None:
            try:
                await self.after_commit(terms, claims, outcomes)
            except Exception:
                log.exception("after-commit hook failed", deal_id=terms.id)
        return outcomes

    async def close(self) -> None:
        await self._batcher.close()
