"""Property: whatever shoppers and checkouts do, in any order, a deal's books
balance — units left + held + sold is the quantity, sold is what was confirmed,
each shopper's holding is what their live reservations hold and within the
limit, and the waitlist never gets units someone else is owed."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from pasar.app import create_app
from pasar.bootstrap import add_vendor_with_owner
from pasar.clock import utcnow
from pasar.commerce.models import DealShopper, DealStock, Reservation
from tests.commerce.conftest import make_shop
from tests.conftest import VendorCtx, make_settings

QUANTITY, LIMIT, SHOPPERS = 6, 2, 4

step = st.one_of(
    st.tuples(st.just("claim"), st.integers(0, SHOPPERS - 1), st.integers(1, 2), st.integers(0, 3)),
    st.tuples(st.just("confirm"), st.integers(0, 20)),
    st.tuples(st.just("release"), st.integers(0, 20)),
    st.tuples(st.just("wait"), st.integers(0, SHOPPERS - 1)),
    st.tuples(st.just("expire")),
    st.tuples(st.just("end")),
)


async def _play(db_path: Path, data_dir: Path, steps: list[tuple[Any, ...]]) -> None:
    app = create_app(make_settings(f"sqlite+aiosqlite:///{db_path}", data_dir))
    services = app.state.services
    async with app.router.lifespan_context(app):
        async with services.db.session() as db:
            made = await add_vendor_with_owner(
                db, services, name="Toko", slug="toko", email="o@toko.example",
                password="a long password here",
            )  # fmt: skip
            await db.commit()
        vendor = VendorCtx(made.vendor_id, "toko", made.api_key, "", "", made.user_id)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            shop = await make_shop(client, vendor)
            deal = await shop.deal(
                variant_ids=[shop.variant_ids[0]], quantity=QUANTITY, per_shopper_limit=LIMIT
            )
            shoppers = [await shop.guest() for _ in range(SHOPPERS)]
            reservations: list[str] = []
            clock = utcnow()
            for action, *args in steps:
                if action == "claim":
                    who, qty, key = args
                    r = await shop.claim(deal["id"], shoppers[who], f"k{who}-{key}", quantity=qty)
                    assert r.status_code in (200, 201, 409), r.text
                    if r.status_code == 201:
                        reservations.append(r.json()["id"])
                elif action in ("confirm", "release") and reservations:
                    rid = reservations[args[0] % len(reservations)]
                    body = (
                        {"order_ref": uuid.uuid4().hex[:10], "amount": 1, "currency": "IDR"}
                        if action == "confirm"
                        else None
                    )
                    r = await client.post(
                        f"/api/v1/reservations/{rid}/{action}", json=body, headers=vendor.headers
                    )
                    assert r.status_code in (200, 409), r.text
                elif action == "wait":
                    r = await client.post(
                        f"/api/v1/storefront/deals/{deal['id']}/waitlist",
                        json={},
                        headers=shoppers[args[0]],
                    )
                    assert r.status_code in (200, 201, 409), r.text
                elif action == "expire":
                    clock += timedelta(seconds=601)
                    await services.commerce.expire_holds(clock)
                elif action == "end":
                    await client.post(
                        f"/api/v1/deals/{deal['id']}/end", json={}, headers=vendor.headers
                    )
            await _check_books(services, deal["id"])


async def _check_books(services: Any, deal_id: str) -> None:
    async with services.db.session() as db:
        stock = await db.get(DealStock, deal_id)
        rows = list(
            (await db.execute(select(Reservation).where(Reservation.deal_id == deal_id))).scalars()
        )
        holdings = {
            s.shopper_id: s.units
            for s in (
                await db.execute(select(DealShopper).where(DealShopper.deal_id == deal_id))
            ).scalars()
        }
    assert stock is not None
    held = sum(r.quantity for r in rows if r.status == "held")
    sold = sum(r.quantity for r in rows if r.status == "confirmed")
    assert stock.remaining >= 0
    assert stock.remaining + held + stock.sold == QUANTITY
    assert stock.sold == sold
    live: dict[str, int] = {}
    for r in rows:
        if r.status in ("held", "confirmed"):
            live[r.shopper_id] = live.get(r.shopper_id, 0) + r.quantity
    assert {s: n for s, n in holdings.items() if n} == live
    assert all(n <= LIMIT for n in live.values())


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(step, min_size=1, max_size=25))
def test_the_books_always_balance(
    steps: list[tuple[Any, ...]], sqlite_template: Path, tmp_path: Path
) -> None:
    run = tmp_path / uuid.uuid4().hex
    run.mkdir()
    shutil.copy(sqlite_template, run / "pasar.db")
    asyncio.run(_play(run / "pasar.db", run / "data", steps))
