"""The ledger when two writers meet (two nodes' batches for one deal), on the real
PostgreSQL: the lock-free attempt (``try_reserve_batch``) gives up whenever the
other writer changed what it read, and the batch redone under the lock
(``reserve_batch``) decides on the fresh count — never an oversold unit, never
a shopper over the limit, never a claim recorded twice."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

from pasar.commerce import groupcommit
from pasar.commerce.ledger import (
    Claim,
    DealTerms,
    Outcome,
    claim_key,
    fingerprint,
    reserve_batch,
    try_reserve_batch,
)
from pasar.commerce.models import DealShopper, DealStock, Reservation
from tests.commerce.conftest import Shop

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.parametrize("database_url", ["postgres"], indirect=True),
    pytest.mark.parametrize("stock_engine", ["sql"], indirect=True),  # the ledger alone
]
Attempt = Callable[[], Awaitable[list[Outcome] | None]]


def claim(terms: DealTerms, shopper: str, key: str, quantity: int = 1) -> Claim:
    variant = terms.variant_ids[0]
    return Claim(
        shopper_id=shopper,
        variant_id=variant,
        quantity=quantity,
        claim_key=claim_key(shopper, key),
        fingerprint=fingerprint(variant, quantity, None),
        pin_id=None,
    )


async def _meet(app: FastAPI, terms: DealTerms, first: list[Claim], second: list[Claim]) -> Any:
    """``first`` is written under the lock and held uncommitted while ``second``
    tries lock-free; then ``first`` commits. Returns the second's attempt."""
    db = app.state.services.db
    now = datetime.now(UTC)
    async with db.session() as one, db.session() as two:
        await reserve_batch(one, terms, first, now)  # holds the deal's row lock
        attempt = asyncio.create_task(try_reserve_batch(two, terms, second, now))
        await asyncio.sleep(0.3)  # the attempt reaches the guarded UPDATE and waits
        assert not attempt.done()
        await one.commit()
        found = await attempt
        if found is None:
            await two.rollback()
            found = await reserve_batch(two, terms, second, now)
            await two.commit()
            return "redone", found
        await two.commit()
        return "lock-free", found


async def _record(app: FastAPI, deal_id: str) -> tuple[int, int, dict[str, int]]:
    async with app.state.services.db.session() as s:
        remaining = await s.scalar(select(DealStock.remaining).where(DealStock.deal_id == deal_id))
        reserved = await s.scalar(
            select(func.coalesce(func.sum(Reservation.quantity), 0)).where(
                Reservation.deal_id == deal_id
            )
        )
        rows = await s.execute(
            select(DealShopper.shopper_id, DealShopper.units).where(DealShopper.deal_id == deal_id)
        )
        return int(remaining or 0), int(reserved or 0), {s: n for s, n in rows}


async def test_a_count_taken_meanwhile_is_never_oversold(app: FastAPI, shop: Shop) -> None:
    deal = await shop.deal(quantity=5, per_shopper_limit=5, variant_ids=[shop.variant_ids[0]])
    terms = await app.state.services.commerce.terms(deal["id"])
    how, outcomes = await _meet(
        app,
        terms,
        [claim(terms, "guest:a", "1", 4)],
        [claim(terms, "guest:b", "1"), claim(terms, "guest:c", "1")],
    )
    assert how == "redone"  # it read 5 left, found 1
    assert [o.reservation is not None for o in outcomes] == [True, False]
    assert outcomes[1].refusal == "sold_out"
    assert await _record(app, deal["id"]) == (0, 5, {"guest:a": 4, "guest:b": 1})


async def test_a_holding_raised_meanwhile_keeps_the_limit(app: FastAPI, shop: Shop) -> None:
    deal = await shop.deal(quantity=10, per_shopper_limit=2, variant_ids=[shop.variant_ids[0]])
    terms = await app.state.services.commerce.terms(deal["id"])
    how, outcomes = await _meet(
        app, terms, [claim(terms, "guest:a", "1", 2)], [claim(terms, "guest:a", "2")]
    )
    assert how == "redone"
    assert outcomes[0].refusal == "limit_reached"
    assert await _record(app, deal["id"]) == (8, 2, {"guest:a": 2})


async def test_the_same_claim_recorded_meanwhile_is_a_replay(app: FastAPI, shop: Shop) -> None:
    deal = await shop.deal(quantity=10, per_shopper_limit=2, variant_ids=[shop.variant_ids[0]])
    terms = await app.state.services.commerce.terms(deal["id"])
    tap = claim(terms, "guest:a", "tap")
    how, outcomes = await _meet(app, terms, [tap], [tap])
    assert how == "redone"
    assert outcomes[0].replayed
    assert await _record(app, deal["id"]) == (9, 1, {"guest:a": 1})


async def test_unrelated_batches_need_no_redo(app: FastAPI, shop: Shop) -> None:
    """Plenty left, other shoppers: the lock-free attempt just waits its turn."""
    deal = await shop.deal(quantity=10, per_shopper_limit=2, variant_ids=[shop.variant_ids[0]])
    terms = await app.state.services.commerce.terms(deal["id"])
    how, outcomes = await _meet(
        app, terms, [claim(terms, "guest:a", "1", 2)], [claim(terms, "guest:b", "1", 2)]
    )
    assert how == "lock-free"
    assert outcomes[0].reservation is not None and outcomes[0].units_left == 6
    assert await _record(app, deal["id"]) == (6, 4, {"guest:a": 2, "guest:b": 2})


async def test_the_same_claim_on_two_nodes_never_deadlocks(app: FastAPI, shop: Shop) -> None:
    """Issue 10 B: one node's lock-free attempt must not hold a reservation's key
    while it waits for the deal's row that the other node holds while inserting
    the same key (the old order: insert, then lock — a deadlock, answered 503)."""
    deal = await shop.deal(quantity=10, per_shopper_limit=2, variant_ids=[shop.variant_ids[0]])
    terms = await app.state.services.commerce.terms(deal["id"])
    tap = claim(terms, "guest:a", "tap")
    db = app.state.services.db
    now = datetime.now(UTC)
    async with db.session() as one, db.session() as two:
        await reserve_batch(one, terms, [claim(terms, "guest:b", "1")], now)  # the deal's row
        attempt = asyncio.create_task(try_reserve_batch(two, terms, [tap], now))
        await asyncio.sleep(0.3)  # the lock-free attempt waits for the deal's row
        assert not attempt.done()
        first = await reserve_batch(one, terms, [tap], now)  # the same key, under the lock
        await one.commit()
        assert first[0].reservation is not None and not first[0].replayed
        assert await attempt is None  # it met the key: redone under the lock
        await two.rollback()
        again = await reserve_batch(two, terms, [tap], now)
        await two.commit()
    assert again[0].replayed and again[0].reservation is not None
    assert again[0].reservation["id"] == first[0].reservation["id"]
    assert await _record(app, deal["id"]) == (8, 2, {"guest:a": 1, "guest:b": 1})


class _Deadlock(Exception):
    sqlstate = "40P01"  # what asyncpg's error carries through SQLAlchemy's adapter


async def test_a_batch_meeting_a_deadlock_is_redone_not_failed(
    app: FastAPI, shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Should the database still report a deadlock (or a serialization failure),
    the batch, rolled back whole, is redone: not 503 while the database is up."""
    deal = await shop.deal(quantity=10, per_shopper_limit=2, variant_ids=[shop.variant_ids[0]])
    commerce = app.state.services.commerce
    terms = await commerce.terms(deal["id"])
    real = groupcommit.try_reserve_batch
    calls = 0

    async def deadlocked_once(*args: Any) -> list[Outcome] | None:
        nonlocal calls
        calls += 1
        if calls == 1:
            await real(*args)  # writes, then the database gives up on the transaction
            raise DBAPIError("UPDATE deal_stock …", {}, _Deadlock("deadlock detected"))
        return await real(*args)

    monkeypatch.setattr(groupcommit, "try_reserve_batch", deadlocked_once)
    outcome = await commerce.group.submit(terms, claim(terms, "guest:a", "tap"))
    assert outcome.reservation is not None and not outcome.replayed
    assert commerce.group.retried == 1
    assert await _record(app, deal["id"]) == (9, 1, {"guest:a": 1})
