"""Group commit: claims for one deal arriving together share one transaction.

Each deal has at most one writer task per process. While it commits a batch,
new claims queue; the next batch takes all of them (up to ``max_batch``), so
the batch size follows the arrival rate without any timer: one claim alone is
written at once, a burst of thousands is written a few hundred at a time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from pasar.clock import utcnow
from pasar.commerce.ledger import Claim, DealTerms, Outcome, reserve_batch
from pasar.db.engine import Database

log = structlog.get_logger()

# Called after each committed batch (outside the transaction): engines update
# their counters, the ticker schedules ``deal.updated``, webhooks are nudged.
AfterCommit = Callable[[DealTerms, Sequence[Claim], Sequence[Outcome]], Awaitable[None]]
# Called inside the transaction with the new reservations (the webhook outbox).
InTransaction = Callable[[AsyncSession, DealTerms, list[Outcome]], Awaitable[None]]


@dataclass(slots=True)
class _Pending:
    claim: Claim
    future: asyncio.Future[Outcome]


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
        self.max_batch = max_batch
        self.in_transaction = in_transaction
        self.after_commit = after_commit
        self._queues: dict[str, list[_Pending]] = {}
        self._writers: dict[str, asyncio.Task[None]] = {}
        self.batches = 0
        self.claims = 0

    async def submit(self, terms: DealTerms, claim: Claim) -> Outcome:
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._queues.setdefault(terms.id, []).append(_Pending(claim, future))
        if terms.id not in self._writers:
            self._writers[terms.id] = asyncio.create_task(
                self._write(terms), name=f"pasar-claims-{terms.id}"
            )
        return await future

    async def _write(self, terms: DealTerms) -> None:
        queue = self._queues[terms.id]
        try:
            while queue:
                batch = queue[: self.max_batch]
                del queue[: self.max_batch]
                await self._commit(terms, batch)
        finally:
            del self._writers[terms.id]
            if queue:  # arrived between the loop's check and here: keep going
                self._writers[terms.id] = asyncio.create_task(self._write(terms))
            else:
                self._queues.pop(terms.id, None)

    async def _commit(self, terms: DealTerms, batch: list[_Pending]) -> None:
        claims = [p.claim for p in batch]
        try:
            async with self.db.session() as db:
                outcomes = await reserve_batch(db, terms, claims, utcnow())
                if self.in_transaction is not None:
                    await self.in_transaction(db, terms, outcomes)
                await db.commit()
        except Exception as exc:
            # Nothing of this batch is known to be recorded: every claim in it
            # fails (retrying with the same key is safe, whatever happened).
            log.warning("claim batch failed", deal_id=terms.id, size=len(batch), error=str(exc))
            for p in batch:
                if not p.future.done():
                    p.future.set_exception(exc)
            return
        self.batches += 1
        self.claims += len(batch)
        if self.after_commit is not None:
            try:
                await self.after_commit(terms, claims, outcomes)
            except Exception:
                log.exception("after-commit hook failed", deal_id=terms.id)
        for p, outcome in zip(batch, outcomes, strict=True):
            if not p.future.done():
                p.future.set_result(outcome)

    async def close(self) -> None:
        for task in list(self._writers.values()):
            await asyncio.gather(task, return_exceptions=True)
