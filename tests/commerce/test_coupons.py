"""Coupons: managing them, posting them in a show, and redeeming them within their limits."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from pasar.commerce.sales_models import CouponRedemption
from tests.commerce.conftest import Shop, make_shop
from tests.commerce.selling import API, running_app, services_of
from tests.conftest import MakeVendor


@pytest.fixture
async def app(database_url: str, tmp_path: Path) -> AsyncIterator[FastAPI]:
    async with running_app(database_url, tmp_path) as application:
        yield application


async def coupon(shop: Shop, status: int = 201, **over: Any) -> Any:
    body: dict[str, Any] = {"code": "HARBOLNAS10", "kind": "percent", "value": 10}
    body.update(over)
    return await shop.api("POST", f"{API}/coupons", status=status, json=body)


def redeem_body(code: str = "HARBOLNAS10", ref: str = "INV-1", **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "order_ref": ref, "amount": 150_000, "currency": "IDR"}
    body.update(over)
    return body


async def redeem(shop: Shop, body: dict[str, Any]) -> httpx.Response:
    return await shop.client.post(f"{API}/coupons/redeem", json=body, headers=shop.vendor.headers)


def iso(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).isoformat()


async def redemptions(app: FastAPI) -> int:
    async with services_of(app).db.session() as db:
        return int(
            (await db.execute(select(func.count()).select_from(CouponRedemption))).scalar_one()
        )


# -- managing ------------------------------------------------------------------------


async def test_create_read_update_delete(shop: Shop) -> None:
    made = await coupon(shop, code="harbolnas10", description="10% off everything")
    assert made["code"] == "HARBOLNAS10" and made["used"] == 0 and made["active"] is True
    assert made["id"].startswith("cpn_")
    taken = await coupon(shop, status=409, code="Harbolnas10")
    assert taken["error"]["code"] == "code_taken"
    fixed = await coupon(shop, code="HEMAT50K", kind="fixed", value=5_000_000, currency="idr")
    assert fixed["currency"] == "IDR"
    listed = await shop.api("GET", f"{API}/coupons")
    assert [c["code"] for c in listed["data"]] == ["HARBOLNAS10", "HEMAT50K"]
    changed = await shop.api(
        "PATCH", f"{API}/coupons/{made['id']}", json={"usage_limit": 100, "active": False}
    )
    assert (changed["usage_limit"], changed["active"]) == (100, False)
    assert (await shop.api("GET", f"{API}/coupons", params={"active": True}))["data"] == [fixed]
    await shop.api("DELETE", f"{API}/coupons/{made['id']}", status=204)
    await shop.api("GET", f"{API}/coupons/{made['id']}", status=404)


BAD_COUPONS: list[tuple[str, dict[str, Any], int]] = [
    ("percent over 100", {"value": 101}, 422),
    ("percent zero", {"value": 0}, 422),
    ("negative value", {"kind": "fixed", "value": -100, "currency": "IDR"}, 422),
    ("fixed without currency", {"kind": "fixed", "value": 100}, 422),
    ("percent with currency", {"currency": "IDR"}, 422),
    ("not a currency", {"kind": "fixed", "value": 100, "currency": "ABC"}, 422),
    ("overflowing amount", {"kind": "fixed", "value": 10**17, "currency": "IDR"}, 422),
    ("value as text", {"value": "10"}, 422),
    ("unknown kind", {"kind": "bogo"}, 422),
    ("code with spaces", {"code": "HAR BOLNAS"}, 422),
    ("code too short", {"code": "AB"}, 422),
    (
        "ends before it starts",
        {"starts_at": iso(timedelta(days=2)), "ends_at": iso(timedelta(days=1))},
        422,
    ),
    ("zero usage limit", {"usage_limit": 0}, 422),
    ("unknown show", {"show_id": "show_nothing"}, 404),
]


async def test_bad_coupons_are_refused(
    shop: Shop, client: httpx.AsyncClient, make_vendor: MakeVendor
) -> None:
    for what, change, status in BAD_COUPONS:
        r = await client.post(
            f"{API}/coupons",
            json={"code": "HARBOLNAS10", "kind": "percent", "value": 10, **change},
            headers=shop.vendor.headers,
        )
        assert r.status_code == status, f"{what}: {r.text}"
    other = await make_shop(client, await make_vendor())
    await coupon(shop, status=404, show_id=other.show_id)
    theirs = await coupon(other)
    await shop.api("GET", f"{API}/coupons/{theirs['id']}", status=404)
    await shop.api("PATCH", f"{API}/coupons/{theirs['id']}", status=404, json={"active": False})
    await shop.api("DELETE", f"{API}/coupons/{theirs['id']}", status=404)
    assert (await shop.api("GET", f"{API}/coupons"))["data"] == []
    # B's code is unknown to A
    r = await redeem(shop, redeem_body())
    assert r.status_code == 404 and r.json()["error"]["code"] == "coupon_not_found"


# -- redeeming -----------------------------------------------------------------------------


async def test_percent_and_fixed_discounts(app: FastAPI, shop: Shop) -> None:
    await coupon(shop)
    checked = await shop.api(
        "POST",
        f"{API}/coupons/validate",
        json={"code": "harbolnas10", "amount": 155_555, "currency": "IDR"},
    )
    assert (checked["discount"], checked["amount_after"]) == (15_555, 140_000)  # rounded down
    assert (await redemptions(app)) == 0
    r = await redeem(shop, redeem_body(amount=155_555))
    assert r.status_code == 201, r.text
    used = r.json()
    assert used["discount"] == 15_555 and used["id"].startswith("red_")
    await coupon(shop, code="HEMAT50K", kind="fixed", value=50_000, currency="IDR")
    r = await redeem(shop, redeem_body("HEMAT50K", "INV-2", amount=30_000))
    assert r.json()["discount"] == 30_000 and r.json()["amount_after"] == 0  # never below zero
    r = await redeem(shop, redeem_body("HEMAT50K", "INV-3", currency="USD"))
    assert r.status_code == 400 and r.json()["error"]["code"] == "currency_mismatch"
    percent_in_usd = await redeem(shop, redeem_body(ref="INV-4", currency="USD", amount=1_000))
    assert percent_in_usd.json()["discount"] == 100


async def test_redeeming_again_for_the_same_order_is_the_first_answer(
    app: FastAPI, shop: Shop
) -> None:
    await coupon(shop, usage_limit=1)
    first = await redeem(shop, redeem_body())
    again = await redeem(shop, redeem_body())
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    other = await redeem(shop, redeem_body(amount=1))
    assert other.status_code == 409 and other.json()["error"]["code"] == "already_redeemed"
    gone = await redeem(shop, redeem_body(ref="INV-2"))
    assert gone.status_code == 409 and gone.json()["error"]["code"] == "coupon_exhausted"
    assert (await shop.api("GET", f"{API}/coupons"))["data"][0]["used"] == 1
    assert await redemptions(app) == 1


async def test_refusals_say_why(app: FastAPI, shop: Shop) -> None:
    await coupon(shop, code="LATER", starts_at=iso(timedelta(hours=1)))
    await coupon(
        shop, code="OVER", starts_at=iso(-timedelta(days=2)), ends_at=iso(-timedelta(days=1))
    )
    off = await coupon(shop, code="OFF")
    await shop.api("PATCH", f"{API}/coupons/{off['id']}", json={"active": False})
    await coupon(shop, code="ONESHOW", show_id=shop.show_id)
    await coupon(shop, code="ONCEEACH", per_shopper_limit=1)
    cases = [
        (redeem_body("NOPE"), 404, "coupon_not_found"),
        (redeem_body("LATER"), 409, "coupon_not_started"),
        (redeem_body("OVER"), 409, "coupon_ended"),
        (redeem_body("OFF"), 409, "coupon_inactive"),
        (redeem_body("ONESHOW"), 409, "coupon_wrong_show"),
        (redeem_body("ONCEEACH"), 400, "shopper_required"),
        (redeem_body("ONESHOW", show_id="show_nothing"), 404, "not_found"),
        (redeem_body(amount=-1), 422, "validation_failed"),
        (redeem_body(amount=10**16 + 1), 422, "validation_failed"),
        (redeem_body(currency="RP"), 422, "validation_failed"),
        (redeem_body(currency="ABC"), 422, "validation_failed"),
    ]
    for body, status, code in cases:
        r = await redeem(shop, body)
        assert (r.status_code, r.json()["error"]["code"]) == (status, code), (body, r.text)
    assert await redemptions(app) == 0
    ok = await redeem(shop, redeem_body("ONESHOW", show_id=shop.show_id))
    assert ok.status_code == 201, ok.text
    who = {"shopper_id": "shopper:cust-1"}
    assert (await redeem(shop, redeem_body("ONCEEACH", "A", **who))).status_code == 201
    again = await redeem(shop, redeem_body("ONCEEACH", "B", **who))
    assert again.status_code == 409 and again.json()["error"]["code"] == "coupon_limit_reached"
    checked = await shop.client.post(
        f"{API}/coupons/validate",
        json={"code": "ONCEEACH", "amount": 1, "currency": "IDR", **who},
        headers=shop.vendor.headers,
    )
    assert checked.status_code == 409
    someone_else = await redeem(shop, redeem_body("ONCEEACH", "C", shopper_id="guest:abc"))
    assert someone_else.status_code == 201


async def test_concurrent_redemptions_never_pass_the_limits(app: FastAPI, shop: Shop) -> None:
    made = await coupon(shop, usage_limit=5)
    answers = await asyncio.gather(*(redeem(shop, redeem_body(ref=f"R-{n}")) for n in range(30)))
    codes = Counter(
        r.status_code if r.status_code == 201 else r.json()["error"]["code"] for r in answers
    )
    assert codes == Counter({201: 5, "coupon_exhausted": 25}), codes
    assert (await shop.api("GET", f"{API}/coupons/{made['id']}"))["used"] == 5
    assert await redemptions(app) == 5

    each = await coupon(shop, code="ONCE2", per_shopper_limit=2)
    body = {"shopper_id": "shopper:cust-7"}
    answers = await asyncio.gather(
        *(redeem(shop, redeem_body("ONCE2", f"S-{n}", **body)) for n in range(12))
    )
    codes = Counter(
        r.status_code if r.status_code == 201 else r.json()["error"]["code"] for r in answers
    )
    assert codes == Counter({201: 2, "coupon_limit_reached": 10}), codes
    assert (await shop.api("GET", f"{API}/coupons/{each['id']}"))["used"] == 2

    # One order redeemed from many places at once: one redemption, the same answer.
    await coupon(shop, code="PLENTY")
    answers = await asyncio.gather(*(redeem(shop, redeem_body("PLENTY", "SAME")) for _ in range(8)))
    assert sorted(r.status_code for r in answers) == [200] * 7 + [201], [r.text for r in answers]
    assert len({r.json()["id"] for r in answers}) == 1
    assert await redemptions(app) == 5 + 2 + 1


# -- posting in a show ----------------------------------------------------------------------


async def test_posting_a_coupon_in_a_show(
    shop: Shop, client: httpx.AsyncClient, make_vendor: MakeVendor
) -> None:
    everywhere = await coupon(shop, description="10% semua produk")
    here = await coupon(
        shop,
        code="LIVE50",
        kind="fixed",
        value=50_000,
        currency="IDR",
        show_id=shop.show_id,
        ends_at=iso(timedelta(hours=2)),
    )
    storefront = f"{API}/storefront/shows/{shop.show_id}/coupons"
    assert (await client.get(storefront)).json() == []
    on_show = f"{API}/shows/{shop.show_id}/coupons"
    posted = await shop.api("POST", f"{on_show}/{everywhere['id']}/post", status=201)
    assert posted["coupon"]["code"] == "HARBOLNAS10" and posted["show_id"] == shop.show_id
    await shop.api("POST", f"{on_show}/{here['id']}/post", status=201)
    seen = (await client.get(storefront)).json()
    assert [c["code"] for c in seen] == ["LIVE50", "HARBOLNAS10"]  # latest post first
    assert seen[0] | {"posted_at": None} == {
        "coupon_id": here["id"],
        "code": "LIVE50",
        "description": "",
        "kind": "fixed",
        "value": 50_000,
        "currency": "IDR",
        "ends_at": here["ends_at"],
        "posted_at": None,
    }
    # a coupon of another show is not found under this one
    other_show = await shop.api("POST", f"{API}/shows", status=201, json={"title": "Encore"})
    await shop.api("POST", f"{API}/shows/{other_show['id']}/coupons/{here['id']}/post", status=404)
    # switched off: no longer listed, and cannot be posted
    await shop.api("PATCH", f"{API}/coupons/{everywhere['id']}", json={"active": False})
    assert [c["code"] for c in (await client.get(storefront)).json()] == ["LIVE50"]
    r = await shop.api("POST", f"{on_show}/{everywhere['id']}/post", status=409)
    assert r["error"]["code"] == "coupon_inactive"
    # another vendor's coupon, or show
    other = await make_shop(client, await make_vendor())
    theirs = await coupon(other)
    await shop.api("POST", f"{on_show}/{theirs['id']}/post", status=404)
    await shop.api("POST", f"{API}/shows/{other.show_id}/coupons/{here['id']}/post", status=404)
    assert (await client.get(f"{API}/storefront/shows/show_nothing/coupons")).status_code == 404
    # over: nothing more to post
    for state in ("live", "ended"):
        await shop.api("POST", f"{API}/shows/{shop.show_id}/transitions", json={"to": state})
    r = await shop.api("POST", f"{on_show}/{here['id']}/post", status=409)
    assert r["error"]["code"] == "show_over"
