"""The group commit behind both engines: claims arriving together are recorded by
one transaction and every one of them is answered from it; a batch that does not
commit answers none of its claims with a reservation."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from redis.asyncio import Redis

from pasar.commerce import groupcommit
from pasar.commerce.ledger import Outcome
from tests.commerce.conftest import Shop
from tests.commerce.test_ledger_races import _record
from tests.conftest import REDIS_TIMEOUTS, REDIS_URL

N = 12


async def _redis_left(deal_id: str) -> int | None:
    redis = Redis.from_url(REDIS_URL, **REDIS_TIMEOUTS)
    try:
        value = await redis.get(f"stock:{{{deal_id}}}:left")
    finally:
        await redis.aclose()
    return None if value is None else int(value)


async def test_claims_arriving_together_are_recorded_in_one_batch_and_all_answered(
    app: FastAPI, shop: Shop, stock_engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    deal = await shop.deal(quantity=50, per_shopper_limit=1, variant_ids=[shop.variant_ids[0]])
    real = groupcommit.try_reserve_batch
    gate, started = asyncio.Event(), asyncio.Event()
    sizes: list[int] = []

    async def gated(db: Any, terms: Any, claims: Any, now: Any) -> list[Outcome] | None:
        sizes.append(len(claims))
        if len(sizes) == 1:
            started.set()
            await gate.wait()  # the first batch is under way while the rest arrive
        return await real(db, terms, claims, now)

    monkeypatch.setattr(groupcommit, "try_reserve_batch", gated)
    guests = [await shop.guest() for _ in range(N + 1)]
    first = asyncio.ensure_future(shop.claim(deal["id"], guests[0]))
    await asyncio.wait_for(started.wait(), 10)
    rest = [asyncio.ensure_future(shop.claim(deal["id"], g)) for g in guests[1:]]
    await asyncio.sleep(0.5)  # every one of them is queued behind the first batch
    assert not any(r.done() for r in rest)  # nobody is answered before their commit
    gate.set()
    answers = [await first, *await asyncio.gather(*rest)]
    assert [r.status_code for r in answers] == [201] * (N + 1), [r.text for r in answers]
    assert sizes == [1, N]
    ids = {r.json()["id"] for r in answers}
    assert len(ids) == N + 1
    remaining, reserved, by_shopper = await _record(app, deal["id"])
    assert (remaining, reserved, len(by_shopper)) == (50 - N - 1, N + 1, N + 1)
    if stock_engine == "redis":
        assert await _redis_left(deal["id"]) == remaining


async def test_a_batch_that_fails_to_commit_answers_no_claim_with_a_reservation(
    app: FastAPI, shop: Shop, stock_engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batch's rows were written, then its transaction failed: every claim in
    it is 503 (retry with the same key), nothing is recorded, the Redis engine
    gives the units back; the retries then reserve, once each."""
    deal = await shop.deal(quantity=N, per_shopper_limit=1, variant_ids=[shop.variant_ids[0]])
    commerce = app.state.services.commerce
    group = commerce.group
    real_hook = group.in_transaction
    gate, started = asyncio.Event(), asyncio.Event()
    failing = True
    seen: list[int] = []

    async def fail_after_writing(db: Any, terms: Any, outcomes: list[Outcome]) -> None:
        assert real_hook is not None
        await real_hook(db, terms, outcomes)
        seen.append(len(outcomes))
        if len(seen) == 1:
            started.set()
            await gate.wait()
        if failing:
            raise RuntimeError("the commit did not happen")

    monkeypatch.setattr(group, "in_transaction", fail_after_writing)
    guests = [await shop.guest() for _ in range(N)]
    keys = [uuid.uuid4().hex for _ in range(N)]
    first = asyncio.ensure_future(shop.claim(deal["id"], guests[0], key=keys[0]))
    await asyncio.wait_for(started.wait(), 10)
    rest = [
        asyncio.ensure_future(shop.claim(deal["id"], g, key=k))
        for g, k in zip(guests[1:], keys[1:], strict=True)
    ]
    await asyncio.sleep(0.5)
    gate.set()
    answers = [await first, *await asyncio.gather(*rest)]
    assert seen == [1, N - 1]
    for r in answers:
        assert r.status_code == 503, r.text
        assert r.json()["error"]["code"] == "stock_unavailable"
    assert await _record(app, deal["id"]) == (N, 0, {})
    if stock_engine == "redis":
        assert await _redis_left(deal["id"]) == N  # the units were given back
    failing = False
    again = await asyncio.gather(
        *(shop.claim(deal["id"], g, key=k) for g, k in zip(guests, keys, strict=True))
    )
    assert [r.status_code for r in again] == [201] * N, [r.text for r in again]
    assert await _record(app, deal["id"]) == (0, N, {g: 1 for g in _shoppers(again)})


def _shoppers(answers: list[Any]) -> list[str]:
    return [r.json()["shopper_id"] for r in answers]


async def test_the_dispatcher_is_woken_only_for_batches_that_queued_messages(
    app: FastAPI, shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No webhook endpoint: claims queue nothing and wake nobody (a query per batch
    saved); the reservations are still announced to viewers."""
    commerce = app.state.services.commerce
    nudges: list[int] = []
    monkeypatch.setattr(commerce, "nudge_webhooks", lambda: nudges.append(1))
    deal = await shop.deal(quantity=5, per_shopper_limit=1, variant_ids=[shop.variant_ids[0]])
    terms = await commerce.terms(deal["id"])
    reserved = [Outcome(reservation={"id": "rsv_x"})]
    commerce._dirty.clear()
    await commerce._after_batch(terms, [], reserved, 0)
    assert nudges == [] and deal["id"] in commerce._dirty
    await commerce._after_batch(terms, [], reserved, 2)
    assert nudges == [1]
    r = await shop.claim(deal["id"], await shop.guest())
    assert r.status_code == 201
    async with app.state.services.db.session() as db:
        assert await commerce._record_events(db, terms, [Outcome(reservation=r.json())]) == 0
