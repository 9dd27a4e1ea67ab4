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
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from pasar.clock import utcnow
from pasar.commerce.batching import Batcher
from pasar.commerce.ledger import Claim, DealTerms, Outcome, reserve_batch, try_reserve_batch
from pasar.db.engine import Database

log = structlog.get_logger()

RETRIES = 5  # attempts of one batch when the database reports a deadlock or serialization failure
# PostgreSQL's serialization_failure and deadlock_detected: the transaction was
# rolled back whole, so doing it again is safe.
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})


def _retryable(exc: DBAPIError) -> bool:
    return getattr(exc.orig, "sqlstate", None) in RETRYABLE_SQLSTATES


# Called after each committed batch (outside the transaction) with what the
# in-transaction hook returned: the ticker schedules ``deal.updated``, webhooks
# are nudged when messages were queued.
AfterCommit = Callable[[DealTerms, Sequence[Claim], Sequence[Outcome], int], Awaitable[None]]
# Called inside the transaction with the new reservations (the webhook outbox);
# returns the number of webhook messages it queued.
InTransaction = Callable[[AsyncSession, DealTerms, list[Outcome]], Awaitable[int | None]]


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
        self.retried = 0  # batches redone after a deadlock or serialization failure
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
        attempt = 0
        while True:
            attempt += 1
            try:
                outcomes, queued = await self._attempt(terms, claims, locked_first=attempt > 1)
                break
            except DBAPIError as exc:
                # Every writer takes the deal's locks in one order (ledger.py), so
                # a deadlock or serialization failure should not happen; if one
                # does, the database rolled the batch back whole: redo it rather
                # than answer 503 while the database is up.
                if _retryable(exc) and attempt < RETRIES:
                    self.retried += 1
                    log.warning("claim batch retried", deal_id=terms.id, error=str(exc))
                    continue
                log.warning("claim batch failed", deal_id=terms.id, size=len(batch), error=str(exc))
                raise
            except Exception as exc:
                # Nothing of this batch is known to be recorded: every claim in it
                # fails (retrying with the same key is safe, whatever happened).
                log.warning("claim batch failed", deal_id=terms.id, size=len(batch), error=str(exc))
                raise
        if self.after_commit is not None:
            try:
                await self.after_commit(terms, claims, outcomes, queued)
            except Exception:
                log.exception("after-commit hook failed", deal_id=terms.id)
        return outcomes

    async def _attempt(
        self, terms: DealTerms, claims: list[Claim], *, locked_first: bool
    ) -> tuple[list[Outcome], int]:
        """The batch's outcomes, and the webhook messages queued with them (-1:
        unknown, as from a hook that does not say)."""
        async with self.db.session() as db:
            now = utcnow()
            found = None if locked_first else await try_reserve_batch(db, terms, claims, now)
            if found is None:  # another writer came between the reads and the lock
                await db.rollback()
                self.redone += 1
                found = await reserve_batch(db, terms, claims, now)
            queued = 0
            if self.in_transaction is not None:
                said = await self.in_transaction(db, terms, found)
                queued = -1 if said is None else said
            await db.commit()
            return found, queued

    async def close(self) -> None:
        await self._batcher.close()
