"""Once a key has a reservation, every retry with it answers that reservation
(issue 10, A): whatever failed on the way, on whichever node, even after the
deal ended. The multi-node version is ``test_claims_across_nodes.py``."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI

from pasar.commerce.ledger import Claim, DealTerms, Outcome
from tests.commerce.conftest import Shop


@pytest.mark.redis
@pytest.mark.parametrize("stock_engine", ["redis"], indirect=True)
async def test_a_key_another_node_recorded_is_never_refused(
    app: FastAPI, shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first attempt's batch fails (503) while a duplicate of it, sent at the
    same time, is recorded: the failing attempt used to take the key out of
    Redis, which then refused every retry (sold out) while the reservation was
    held. Keys are never given back now: the retry reaches the record."""
    deal = await shop.deal(quantity=1, per_shopper_limit=1, variant_ids=[shop.variant_ids[0]])
    group = app.state.services.commerce.engine.group
    real = group.submit
    who = await shop.guest()
    duplicate: list[Any] = []
    calls = 0

    async def fails_after_its_duplicate(terms: DealTerms, claim: Claim) -> Outcome:
        nonlocal calls
        calls += 1
        if calls == 1:  # the first attempt, admitted by the script
            duplicate.append(await shop.claim(deal["id"], who, key="tap"))
            raise ConnectionError("the database went away")  # this node's batch failed
        return await real(terms, claim)

    monkeypatch.setattr(group, "submit", fails_after_its_duplicate)
    first = await shop.claim(deal["id"], who, key="tap")
    assert first.status_code == 503, first.text
    assert duplicate[0].status_code == 201, duplicate[0].text
    held = duplicate[0].json()["id"]

    other = await shop.claim(deal["id"], await shop.guest())
    assert other.status_code == 409 and other.json()["error"]["code"] == "sold_out"
    for _ in range(3):
        again = await shop.claim(deal["id"], who, key="tap")
        assert again.status_code == 200, again.text
        assert again.json()["id"] == held


async def test_a_retry_after_the_deal_ended_answers_its_reservation(shop: Shop) -> None:
    """Holds stay valid after a deal's end, so does the answer to their keys."""
    deal = await shop.deal(quantity=3, per_shopper_limit=1, variant_ids=[shop.variant_ids[0]])
    who = await shop.guest()
    first = await shop.claim(deal["id"], who, key="tap")
    assert first.status_code == 201, first.text
    await shop.api("POST", f"/api/v1/deals/{deal['id']}/end", json={})
    again = await shop.claim(deal["id"], who, key="tap")
    assert again.status_code == 200, again.text
    assert again.json()["id"] == first.json()["id"] and again.json()["status"] == "held"
    late = await shop.claim(deal["id"], await shop.guest(), key="tap")
    assert late.status_code == 409 and late.json()["error"]["code"] == "ended"
