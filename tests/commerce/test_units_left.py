"""What a shopper is shown as units left is the record's count, with either
engine (issue 10, F): the Redis engine's counter is an admission filter that
may disagree for a while (claims in flight, units a killed node took)."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from tests.commerce.conftest import Shop


@pytest.mark.redis
@pytest.mark.parametrize("stock_engine", ["redis"], indirect=True)
async def test_the_storefront_shows_the_records_count_not_redis(app: FastAPI, shop: Shop) -> None:
    deal = await shop.deal(quantity=20, per_shopper_limit=1, variant_ids=[shop.variant_ids[0]])
    for _ in range(3):
        assert (await shop.claim(deal["id"], await shop.guest())).status_code == 201
    engine = app.state.services.commerce.engine
    await engine.redis.decrby(f"stock:{{{deal['id']}}}:left", 7)  # a killed node's units
    shown = await shop.client.get(f"/api/v1/storefront/deals/{deal['id']}")
    assert shown.status_code == 200, shown.text
    assert shown.json()["units_left"] == 17
    assert (await shop.api("GET", f"/api/v1/deals/{deal['id']}"))["units_left"] == 17
    assert await engine.units_left(deal["id"]) == 17  # what deal.updated carries
