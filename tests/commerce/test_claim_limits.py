"""Claim bots: guests minted and claims sent per IP address and per shopper are
rate limited (429 with Retry-After), per node without Redis and across nodes with
it; and a deal may hold guests' claims for less time than signed-in shoppers'."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis

from pasar.app import create_app
from pasar.commerce.throttle import CLAIMS_PER_IP, PREFIX, Throttle
from tests.commerce.conftest import Shop
from tests.conftest import REDIS_TIMEOUTS, REDIS_URL, _truncate, make_settings, service_missing

API = "/api/v1"
LIMITS = {"guest_mints_per_ip": 4, "claims_per_ip": 6, "claims_per_shopper": 3}


async def _forget_counts() -> None:
    redis = Redis.from_url(REDIS_URL, **REDIS_TIMEOUTS)
    try:
        keys = [k async for k in redis.scan_iter(match=f"{PREFIX}*")]
        if keys:
            await redis.delete(*keys)
    except Exception as exc:
        service_missing("Redis", f"{REDIS_URL}: {exc}")
    finally:
        await redis.aclose()


def _settings(database_url: str, data_dir: Path, stock_engine: str) -> Any:
    extra: dict[str, Any] = dict(LIMITS)
    if stock_engine == "redis":  # Redis configured: the counts are shared by nodes
        extra |= {"stock_engine": "redis", "redis_url": REDIS_URL}
    return make_settings(database_url, data_dir, **extra)


@pytest.fixture
async def app(database_url: str, tmp_path: Path, stock_engine: str) -> AsyncIterator[FastAPI]:
    """The commerce app with small limits (this module's own)."""
    if stock_engine == "redis":
        await _forget_counts()
    application = create_app(_settings(database_url, tmp_path / "data", stock_engine))
    await _truncate(application.state.services.db)
    async with application.router.lifespan_context(application):
        yield application


def _refused(r: httpx.Response, code: str) -> dict[str, Any]:
    assert r.status_code == 429, r.text
    error: dict[str, Any] = r.json()["error"]
    assert error["code"] == code
    wait = int(r.headers["Retry-After"])
    assert 1 <= wait <= 60 and error["details"]["retry_after"] == wait
    assert f"try again in {wait} s" in error["message"]
    return error


async def test_minting_guests_is_limited_per_address(shop: Shop) -> None:
    for _ in range(LIMITS["guest_mints_per_ip"] - 1):  # the shop fixture minted none
        await shop.guest()
    await shop.guest()
    r = await shop.client.post(f"{API}/storefront/guests")
    error = _refused(r, "too_many_guests")
    assert "address" in error["message"]


async def test_claims_are_limited_per_shopper_and_per_address(shop: Shop) -> None:
    deal = await shop.deal(variant_ids=[shop.variant_ids[0]], quantity=100, per_shopper_limit=100)
    bot = await shop.guest()
    answers = [await shop.claim(deal["id"], bot) for _ in range(LIMITS["claims_per_shopper"])]
    assert [a.status_code for a in answers] == [201] * LIMITS["claims_per_shopper"]
    error = _refused(await shop.claim(deal["id"], bot), "too_many_claims")
    assert "shopper" in error["message"]
    # Fresh guests from the same address: the address's limit (6, four used) stops them.
    others = [await shop.guest() for _ in range(3)]
    answers = [await shop.claim(deal["id"], g) for g in others]
    assert [a.status_code for a in answers[:2]] == [201, 201]
    error = _refused(answers[2], "too_many_claims")
    assert "address" in error["message"]
    held = (await shop.api("GET", f"{API}/deals/{deal['id']}"))["held"]
    assert held == LIMITS["claims_per_ip"] - 1  # a refused call reserves nothing


async def test_the_address_limit_holds_across_nodes_with_redis(
    app: FastAPI,
    shop: Shop,
    database_url: str,
    tmp_path: Path,
    stock_engine: str,
) -> None:
    if stock_engine != "redis":
        pytest.skip("without Redis each node counts for itself (documented)")
    deal = await shop.deal(variant_ids=[shop.variant_ids[0]], quantity=100, per_shopper_limit=100)
    node = create_app(_settings(database_url, tmp_path / "node-b", stock_engine))
    async with node.router.lifespan_context(node):
        transport = httpx.ASGITransport(app=node)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as b:
            on_b = Shop(b, shop.vendor, shop.show_id, shop.product_id, shop.variant_ids)
            guests = [await shop.guest(), await shop.guest(), await on_b.guest()]
            codes = []
            for i in range(LIMITS["claims_per_ip"] + 1):
                where = shop if i % 2 else on_b
                codes.append((await where.claim(deal["id"], guests[i % 3])).status_code)
            assert codes == [201] * LIMITS["claims_per_ip"] + [429]


async def test_guests_may_get_a_shorter_hold(shop: Shop) -> None:
    deal = await shop.deal(
        variant_ids=[shop.variant_ids[0]], hold_seconds=900, guest_hold_seconds=60
    )
    assert (deal["hold_seconds"], deal["guest_hold_seconds"]) == (900, 60)

    def held_for(r: httpx.Response) -> float:
        assert r.status_code == 201, r.text
        body = r.json()
        start, end = (datetime.fromisoformat(body[k]) for k in ("created_at", "expires_at"))
        return (end - start).total_seconds()

    assert held_for(await shop.claim(deal["id"], await shop.guest())) == 60
    assert held_for(await shop.claim(deal["id"], await shop.shopper("cust-1"))) == 900
    plain = await shop.deal(variant_ids=[shop.variant_ids[1]], hold_seconds=300)
    assert plain["guest_hold_seconds"] == 300  # not set: the deal's hold
    assert held_for(await shop.claim(plain["id"], await shop.guest())) == 300


@pytest.mark.redis
async def test_hits_arriving_together_share_one_round_trip_and_count_in_order() -> None:
    """A burst of claims costs one Redis round trip per batch, and each hit is judged
    as if alone: the first ``limit`` hits of a key pass, the rest wait the window out."""
    await _forget_counts()
    limits = Throttle(REDIS_URL)
    try:
        batches: list[int] = []
        real = limits._take_batch

        async def counting(key: str, hits: list[tuple[str, int]]) -> list[float]:
            batches.append(len(hits))
            return await real(key, hits)

        limits._batcher.handle = counting
        keys = ["claim:ip:a"] * 5 + ["claim:ip:b"] * 2
        waits = await asyncio.gather(*(limits._take(k, 3) for k in keys))
        assert [w == 0 for w in waits] == [True] * 3 + [False] * 2 + [True] * 2
        assert all(50 <= w <= 60 for w in waits[3:5])
        assert batches == [7]  # submitted together: one pipeline
    finally:
        await limits.close()


async def test_a_redis_outage_skips_the_limit_never_refuses() -> None:
    limits = Throttle("redis://127.0.0.1:1/0")  # nothing listens there
    try:
        await asyncio.gather(*(limits.check(CLAIMS_PER_IP, "claim:ip:x", 1) for _ in range(3)))
    finally:
        await limits.close()
