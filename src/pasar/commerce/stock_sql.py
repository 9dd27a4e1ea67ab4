"""The SQL stock engine: the ledger's group commit, nothing in front of it."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from pasar.commerce.groupcommit import GroupCommit
from pasar.commerce.ledger import Claim, DealTerms, Outcome
from pasar.commerce.models import DealStock
from pasar.db.engine import Database


class SqlStock:
    name = "sql"

    def __init__(self, db: Database, group: GroupCommit) -> None:
        self.db = db
        self.group = group

    async def claim(self, terms: DealTerms, claim: Claim) -> Outcome:
        return await self.group.submit(terms, claim)

    async def units_left(self, deal_id: str) -> int | None:
        async with self.db.session() as db:
            return await record_units_left(db, deal_id)

    async def returned(self, deal_id: str, remaining: int, by_shopper: Mapping[str, int]) -> None:
        return None  # the record is the only state

    async def closed(self, deal_id: str) -> None:
        return None

    async def reconcile(self) -> None:
        return None

    async def close(self) -> None:
        await self.group.close()


async def record_units_left(db: AsyncSession, deal_id: str) -> int | None:
    """Units the record says can still be claimed (None: unknown deal)."""
    return (
        await db.execute(select(DealStock.remaining).where(DealStock.deal_id == deal_id))
    ).scalar_one_or_none()
