"""Orders and attribution: clicks, reservations and shows; a show's sales; bad input."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from pasar.commerce import clicks
from pasar.commerce.sales_models import Order, OrderLine
from tests.commerce.conftest import Shop, make_shop
from tests.commerce.selling import (
    API,
    add_product,
    click,
    messages,
    pin,
    running_app,
    services_of,
    subscribe,
)
from tests.conftest import MakeVendor, VendorCtx


@pytest.fixture
async def app(database_url: str, tmp_path: Path) -> AsyncIterator[FastAPI]:
    async with running_app(database_url, tmp_path) as application:
        yield application


def order_body(shop: Shop, ref: str = "INV-1", **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "order_ref": ref,
        "amount": 77_800_000,
        "currency": "IDR",
        "lines": [{"variant_id": shop.variant_ids[0], "quantity": 2, "unit_price": 38_900_000}],
    }
    body.update(over)
    return body


async def report(shop: Shop, body: dict[str, Any], status: int = 201, **kw: Any) -> Any:
    return await shop.api("POST", f"{API}/orders", status=status, json=body, **kw)


async def count_orders(app: FastAPI) -> tuple[int, int]:
    async with services_of(app).db.session() as db:
        orders = (await db.execute(select(func.count()).select_from(Order))).scalar_one()
        lines = (await db.execute(select(func.count()).select_from(OrderLine))).scalar_one()
    return int(orders), int(lines)


# -- clicks --------------------------------------------------------------------------


async def test_a_click_names_the_show_the_pin_on_screen_and_the_shopper(shop: Shop) -> None:
    before = await click(shop)
    assert before["pin_id"] is None and before["shopper_id"] is None  # anonymous, not pinned
    pinned = await pin(shop)
    who = await shop.guest()
    tapped = await click(shop, who, variant_id=shop.variant_ids[1])
    assert tapped["pin_id"] == pinned["id"]
    assert tapped["shopper_id"].startswith("guest:")
    assert tapped["variant_id"] == shop.variant_ids[1]
    assert tapped["click_token"].startswith("pc1.")
    clicked = datetime.fromisoformat(tapped["clicked_at"])
    assert datetime.fromisoformat(tapped["expires_at"]) - clicked == timedelta(days=7)


async def test_clicks_on_what_the_show_does_not_sell_are_404(
    shop: Shop, client: httpx.AsyncClient, make_vendor: MakeVendor
) -> None:
    other = await make_shop(client, await make_vendor())
    await click(shop, product_id=other.product_id, status=404)  # another shop's product
    await click(shop, variant_id=other.variant_ids[0], status=404)
    r = await client.post(
        f"{API}/storefront/shows/show_01JNOTHING0000000000000000/clicks",
        json={"product_id": shop.product_id},
    )
    assert r.status_code == 404
    await click(shop, {"X-Pasar-Guest": "g1.forged.token"}, status=401)


# -- reporting orders ----------------------------------------------------------------------


async def test_an_order_with_a_click_is_attributed_to_the_pin_and_announced(
    app: FastAPI, shop: Shop, client: httpx.AsyncClient
) -> None:
    await subscribe(client, shop.vendor, "order.attributed")
    pinned = await pin(shop)
    who = await shop.guest()
    tapped = await click(shop, who)
    order = await report(shop, order_body(shop, pasar_click=tapped["click_token"]))
    assert order["id"].startswith("ord_") and order["source"] == "api" and order["reported"]
    assert order["show_id"] == shop.show_id
    assert order["shopper_id"] == tapped["shopper_id"]
    (line,) = order["lines"]
    assert line["attributed_by"] == "click"
    assert (line["show_id"], line["pin_id"], line["deal_id"]) == (shop.show_id, pinned["id"], None)
    assert line["product_id"] == shop.product_id and line["sku"] == "KB-M"
    assert line["amount"] == 77_800_000
    assert datetime.fromisoformat(line["acted_at"]) == datetime.fromisoformat(tapped["clicked_at"])
    assert await shop.api("GET", f"{API}/orders/{order['id']}") == order
    listed = await shop.api("GET", f"{API}/orders", params={"show_id": shop.show_id})
    assert [o["id"] for o in listed["data"]] == [order["id"]]
    elsewhere = await shop.api("GET", f"{API}/orders", params={"show_id": "show_nothing"})
    assert elsewhere["data"] == []
    # order.attributed was written with the order, in its transaction
    (event,) = await messages(app, "order.attributed")
    assert event["id"] == order["id"] and event["lines"][0]["pin_id"] == pinned["id"]
    # a refused report writes no event
    await report(shop, order_body(shop, pasar_click=tapped["click_token"]), status=409)
    assert len(await messages(app, "order.attributed")) == 1


async def test_the_line_clicked_gets_its_pin_others_the_pin_on_screen_then(
    shop: Shop,
) -> None:
    """The click names product A; the order also has product B, pinned too at the time of
    the click, and product C, never pinned: B gets its own pin, C only the show."""
    b = await add_product(shop, title="Sarung", handle="sarung")
    c = await add_product(shop, title="Peci", handle="peci")
    pin_a, pin_b = await pin(shop), await pin(shop, b["id"])
    tapped = await click(shop)
    await shop.api("DELETE", f"{API}/shows/{shop.show_id}/pins/{pin_b['id']}", status=204)
    lines = [
        {"variant_id": shop.variant_ids[0], "quantity": 1, "unit_price": 100},
        {"sku": b["variants"][0]["sku"], "quantity": 1, "unit_price": 200},
        {"variant_id": c["variants"][0]["id"], "quantity": 1, "unit_price": 300},
        {"sku": "NOT-IN-PASAR", "title": "Gift wrap", "quantity": 1, "unit_price": 50},
    ]
    order = await report(
        shop, order_body(shop, amount=650, lines=lines, pasar_click=tapped["click_token"])
    )
    got = [(x["product_id"], x["pin_id"], x["attributed_by"]) for x in order["lines"]]
    assert got == [
        (shop.product_id, pin_a["id"], "click"),
        (b["id"], pin_b["id"], "click"),
        (c["id"], None, "click"),
        (None, None, "click"),
    ]
    assert order["lines"][3]["title"] == "Gift wrap" and order["lines"][3]["sku"] == "NOT-IN-PASAR"


async def test_a_show_id_alone_attributes_with_the_pin_on_screen_when_ordered(shop: Shop) -> None:
    pinned = await pin(shop)
    order = await report(shop, order_body(shop, show_id=shop.show_id))
    (line,) = order["lines"]
    assert (line["attributed_by"], line["pin_id"]) == ("show", pinned["id"])
    before = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    earlier = await report(shop, order_body(shop, "INV-2", show_id=shop.show_id, placed_at=before))
    assert earlier["lines"][0]["pin_id"] is None  # nothing was pinned a day ago
    by_pin = await report(shop, order_body(shop, "INV-3", pin_id=pinned["id"]))
    assert by_pin["show_id"] == shop.show_id and by_pin["lines"][0]["pin_id"] == pinned["id"]
    plain = await report(shop, order_body(shop, "INV-4"))
    assert plain["show_id"] is None and plain["lines"][0]["attributed_by"] is None


async def test_confirming_records_the_order_and_the_report_completes_it(
    app: FastAPI, shop: Shop, client: httpx.AsyncClient
) -> None:
    await subscribe(client, shop.vendor, "order.attributed")
    pinned = await pin(shop)
    deal = await shop.deal(variant_ids=[shop.variant_ids[0]])
    who = await shop.guest()
    claimed = (await shop.claim(deal["id"], who, quantity=2, pin_id=pinned["id"])).json()
    other = (await shop.claim(deal["id"], await shop.guest())).json()
    confirm = {"order_ref": "INV-9", "amount": 39_800_000, "currency": "IDR"}
    await shop.api("POST", f"{API}/reservations/{claimed['id']}/confirm", json=confirm)
    (order,) = (await shop.api("GET", f"{API}/orders"))["data"]
    assert (order["order_ref"], order["source"], order["reported"]) == ("INV-9", "checkout", False)
    assert order["amount"] == 39_800_000 and order["shopper_id"] == claimed["shopper_id"]
    (line,) = order["lines"]
    assert line["attributed_by"] == "reservation"
    assert (line["reservation_id"], line["deal_id"], line["pin_id"]) == (
        claimed["id"],
        deal["id"],
        pinned["id"],
    )
    assert (line["quantity"], line["unit_price"], line["amount"]) == (2, 19_900_000, 39_800_000)
    assert len(await messages(app, "order.attributed")) == 1
    # A retried confirm changes nothing.
    await shop.api("POST", f"{API}/reservations/{claimed['id']}/confirm", json=confirm)
    assert (await count_orders(app)) == (1, 1)

    # The checkout reports the whole order: the deal line (matched to the reservation
    # by variant) and a second line at the catalog price.
    whole = order_body(
        shop,
        "INV-9",
        amount=39_800_000 + 38_900_000,
        lines=[
            {"variant_id": shop.variant_ids[0], "quantity": 2, "unit_price": 19_900_000},
            {"variant_id": shop.variant_ids[1], "quantity": 1, "unit_price": 38_900_000},
        ],
        shopper_id=claimed["shopper_id"],
    )
    done = await report(shop, whole, status=200)
    assert done["id"] == order["id"] and done["reported"] is True
    assert done["amount"] == 78_700_000
    assert [(x["variant_id"], x["reservation_id"]) for x in done["lines"]] == [
        (shop.variant_ids[0], claimed["id"]),
        (shop.variant_ids[1], None),
    ]
    await report(shop, whole, status=409)

    # A claim that named no pin gets the product's pin on screen when it was made.
    await shop.api(
        "POST",
        f"{API}/reservations/{other['id']}/confirm",
        json={**confirm, "order_ref": "INV-10", "amount": 19_900_000},
    )
    listed = (await shop.api("GET", f"{API}/orders"))["data"]
    lines = {x["reservation_id"]: x for o in listed for x in o["lines"]}
    assert lines[other["id"]]["pin_id"] == pinned["id"]


async def test_an_order_names_its_reservations(shop: Shop) -> None:
    deal = await shop.deal(variant_ids=[shop.variant_ids[0]])
    held = (await shop.claim(deal["id"], await shop.guest())).json()
    body = order_body(shop, lines=[], reservation_ids=[held["id"]], amount=19_900_000)
    order = await report(shop, body)
    (line,) = order["lines"]
    assert (line["reservation_id"], line["deal_id"], line["quantity"]) == (
        held["id"],
        deal["id"],
        1,
    )
    assert line["attributed_by"] == "reservation" and line["unit_price"] == 19_900_000
    # One reservation, one order.
    again = order_body(shop, "INV-2", lines=[], reservation_ids=[held["id"]], amount=1)
    r = await report(shop, again, status=409)
    assert r["error"]["code"] == "reservation_in_other_order"
    released = (await shop.claim(deal["id"], await shop.guest())).json()
    await shop.api("POST", f"{API}/reservations/{released['id']}/release")
    gone = order_body(shop, "INV-3", lines=[], reservation_ids=[released["id"]], amount=1)
    assert (await report(shop, gone, status=409))["error"]["code"] == "reservation_released"


async def test_an_idempotency_key_replays_the_first_answer(shop: Shop) -> None:
    key = {"Idempotency-Key": "order-1"}
    r = await shop.client.post(
        f"{API}/orders", json=order_body(shop), headers={**shop.vendor.headers, **key}
    )
    assert r.status_code == 201, r.text
    first = r.json()
    r = await shop.client.post(
        f"{API}/orders", json=order_body(shop), headers={**shop.vendor.headers, **key}
    )
    assert r.status_code == 201 and r.headers["idempotent-replayed"] == "true"
    assert r.json() == first
    r = await shop.client.post(
        f"{API}/orders", json=order_body(shop, "INV-2"), headers={**shop.vendor.headers, **key}
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "idempotency_key_reused"


async def test_expired_clicks_are_ignored_and_forged_ones_refused(
    app: FastAPI, shop: Shop, client: httpx.AsyncClient, make_vendor: MakeVendor
) -> None:
    secret = services_of(app).server_secret
    vendor_id = shop.vendor.id
    old = clicks.Click(
        vendor_id,
        shop.show_id,
        shop.product_id,
        None,
        None,
        None,
        datetime.now(UTC) - timedelta(days=8),
    )
    order = await report(shop, order_body(shop, pasar_click=clicks.sign(secret, old)))
    assert order["lines"][0]["attributed_by"] is None
    token = (await click(shop))["click_token"]
    head, body, mac = token.split(".")
    forged = f"{head}.{body}x.{mac}"
    r = await report(shop, order_body(shop, "INV-2", pasar_click=forged), status=400)
    assert r["error"]["code"] == "invalid_click"
    other = await make_shop(client, await make_vendor())
    theirs = (await click(other))["click_token"]
    r2 = await report(shop, order_body(shop, "INV-3", pasar_click=theirs), status=400)
    assert r2["error"]["code"] == "invalid_click"
    # One answer for both, so a token cannot be used to probe which shop it is from.
    assert r2["error"] == r["error"]


BAD_ORDERS: list[tuple[str, dict[str, Any], int]] = [
    ("negative amount", {"amount": -1}, 422),
    ("amount past the limit", {"amount": 10**16 + 1}, 422),
    ("amount as text", {"amount": "77800000"}, 422),
    ("not a currency", {"currency": "ABC"}, 422),
    ("no lines", {"lines": []}, 422),
    ("zero quantity", {"lines": [{"sku": "X", "quantity": 0, "unit_price": 1}]}, 422),
    ("negative price", {"lines": [{"sku": "X", "quantity": 1, "unit_price": -5}]}, 422),
    (
        "line total overflows",
        {"lines": [{"sku": "X", "quantity": 1_000_000, "unit_price": 10**16}]},
        422,
    ),
    ("neither variant nor sku", {"lines": [{"quantity": 1, "unit_price": 1}]}, 422),
    ("unknown variant", {"lines": [{"variant_id": "var_x", "quantity": 1, "unit_price": 1}]}, 404),
    ("unknown show", {"show_id": "show_nothing"}, 404),
    ("unknown pin", {"pin_id": "pin_nothing"}, 404),
    ("unknown reservation", {"reservation_ids": ["rsv_nothing"]}, 404),
    ("a reservation twice", {"reservation_ids": ["rsv_a", "rsv_a"]}, 422),
    ("malformed click", {"pasar_click": "hello"}, 400),
    ("unknown field", {"discount": 5}, 422),
    ("order_ref too long", {"order_ref": "x" * 101}, 422),
    ("NUL in order_ref", {"order_ref": "INV\x00"}, 422),
]


async def test_bad_orders_are_refused_and_change_nothing(app: FastAPI, shop: Shop) -> None:
    for what, change, status in BAD_ORDERS:
        r = await shop.client.post(
            f"{API}/orders", json=order_body(shop, **change), headers=shop.vendor.headers
        )
        assert r.status_code == status, f"{what}: {r.status_code} {r.text}"
        assert r.json()["error"]["code"], what
    assert await count_orders(app) == (0, 0)


async def test_another_vendors_objects_are_not_found(
    shop: Shop, client: httpx.AsyncClient, make_vendor: MakeVendor
) -> None:
    other = await make_shop(client, await make_vendor())
    theirs = await report(other, order_body(other))
    their_pin = await pin(other)
    deal = await other.deal(variant_ids=[other.variant_ids[0]])
    held = (await other.claim(deal["id"], await other.guest())).json()
    await shop.api("GET", f"{API}/orders/{theirs['id']}", status=404)
    await shop.api("GET", f"{API}/shows/{other.show_id}/sales", status=404)
    for change in (
        {"show_id": other.show_id},
        {"pin_id": their_pin["id"]},
        {"reservation_ids": [held["id"]]},
        {"lines": [{"variant_id": other.variant_ids[0], "quantity": 1, "unit_price": 1}]},
    ):
        await report(shop, order_body(shop, **change), status=404)
    assert (await shop.api("GET", f"{API}/orders"))["data"] == []
    # the same order_ref is fine for another shop
    await report(shop, order_body(shop))


# -- a show's sales ---------------------------------------------------------------------


async def test_sales_per_product_pin_and_deal_never_mix_currencies(shop: Shop) -> None:
    usd = await add_product(
        shop,
        title="Kopi Luwak",
        handle="kopi",
        currency="USD",
        variants=[{"sku": "KL-1", "options": {"Size": "M"}, "price": 2_500, "stock": 9}],
    )
    pin_a, pin_usd = await pin(shop), await pin(shop, usd["id"])
    deal = await shop.deal(variant_ids=[shop.variant_ids[0]])
    held = (await shop.claim(deal["id"], await shop.guest(), pin_id=pin_a["id"])).json()
    await shop.api(
        "POST",
        f"{API}/reservations/{held['id']}/confirm",
        json={"order_ref": "D-1", "amount": 19_900_000, "currency": "IDR"},
    )
    tap = (await click(shop))["click_token"]
    await report(shop, order_body(shop, "A-1", pasar_click=tap))  # 2 × 38.9M IDR
    await report(
        shop,
        order_body(
            shop,
            "A-2",
            amount=30_000_000,
            pasar_click=tap,
            lines=[
                {
                    "variant_id": shop.variant_ids[1],
                    "quantity": 1,
                    "unit_price": 38_900_000,
                    "amount": 30_000_000,  # after a coupon
                }
            ],
        ),
    )
    await report(
        shop,
        order_body(
            shop,
            "U-1",
            amount=5_000,
            currency="USD",
            show_id=shop.show_id,
            lines=[{"sku": "KL-1", "quantity": 2, "unit_price": 2_500}],
        ),
    )
    await report(shop, order_body(shop, "ELSEWHERE"))  # not from the show: not counted
    sales = await shop.api("GET", f"{API}/shows/{shop.show_id}/sales")
    assert sales["show_id"] == shop.show_id
    assert sales["totals"] == [
        {
            "currency": "IDR",
            "revenue": 19_900_000 + 77_800_000 + 30_000_000,
            "units": 4,
            "orders": 3,
        },
        {"currency": "USD", "revenue": 5_000, "units": 2, "orders": 1},
    ]
    assert sales["by_product"] == [
        {
            "product_id": shop.product_id,
            "currency": "IDR",
            "revenue": 127_700_000,
            "units": 4,
            "orders": 3,
        },
        {"product_id": usd["id"], "currency": "USD", "revenue": 5_000, "units": 2, "orders": 1},
    ]
    by_pin = {(p["pin_id"], p["currency"]): p for p in sales["by_pin"]}
    assert by_pin[(pin_a["id"], "IDR")]["revenue"] == 127_700_000
    assert by_pin[(pin_a["id"], "IDR")]["product_id"] == shop.product_id
    assert by_pin[(pin_usd["id"], "USD")]["revenue"] == 5_000
    assert sales["by_deal"] == [
        {"deal_id": deal["id"], "currency": "IDR", "revenue": 19_900_000, "units": 1, "orders": 1},
    ]
    orders = await shop.api("GET", f"{API}/orders", params={"show_id": shop.show_id})
    assert sorted(o["order_ref"] for o in orders["data"]) == ["A-1", "A-2", "D-1", "U-1"]


async def test_sales_of_huge_orders_do_not_overflow(app: FastAPI, shop: Shop) -> None:
    """Sums are exact Python integers, whatever SQLite's SUM would do past 2**63."""
    top = 10**16
    for n in range(3):
        await report(
            shop,
            order_body(
                shop,
                f"BIG-{n}",
                amount=top,
                show_id=shop.show_id,
                lines=[{"sku": "GOLD", "quantity": 1, "unit_price": top}],
            ),
        )
    async with services_of(app).db.session() as db:  # pretend 1,000 of them
        for line in (await db.execute(select(OrderLine))).scalars():
            line.amount = 2**62
        await db.commit()
    sales = await shop.api("GET", f"{API}/shows/{shop.show_id}/sales")
    assert sales["totals"][0]["revenue"] == 3 * 2**62


async def test_sales_need_analytics_and_reports_need_orders_scope(
    shop: Shop, client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    key = await shop.api(
        "POST", f"{API}/api-keys", status=201, json={"name": "checkout", "scopes": ["orders:write"]}
    )
    checkout = {"Authorization": f"Bearer {key['key']}"}
    r = await client.post(f"{API}/orders", json=order_body(shop), headers=checkout)
    assert r.status_code == 201, r.text
    r = await client.get(f"{API}/shows/{shop.show_id}/sales", headers=checkout)
    assert r.status_code == 403
