"""Pasar's hosted cart (per shopper per vendor, priced from the record), the hand-off to
the vendor's checkout, the signed server-to-server fetch, and the embed's event shapes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI

from pasar.commerce import carts, embed_contract
from pasar.commerce.schemas import AddToCartEvent, CartState, EmbedRefusal
from tests.commerce.conftest import Shop, make_shop
from tests.commerce.selling import API, click, messages, pin, running_app, services_of, subscribe
from tests.conftest import MakeVendor

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = (
    "https://toko.example/cart/add?items={lines}&pasar={reservation_ids}"
    "&show={show_id}&cart={cart_token}"
)


@pytest.fixture
async def app(database_url: str, tmp_path: Path) -> AsyncIterator[FastAPI]:
    async with running_app(database_url, tmp_path) as application:
        yield application


def cart_url(shop: Shop) -> str:
    return f"{API}/storefront/vendors/{shop.vendor.slug}/cart"


async def put(shop: Shop, who: dict[str, str], lines: list[dict[str, Any]], **extra: Any) -> Any:
    return await shop.client.put(cart_url(shop), json={"lines": lines, **extra}, headers=who)


async def get(shop: Shop, who: dict[str, str]) -> Any:
    r = await shop.client.get(cart_url(shop), headers=who)
    assert r.status_code == 200, r.text
    return r.json()


async def set_template(shop: Shop, template: str | None = TEMPLATE) -> None:
    await shop.api("PATCH", f"{API}/vendor", json={"checkout_url_template": template or ""})


# -- the cart --------------------------------------------------------------------------


async def test_a_cart_is_priced_from_the_catalog_and_survives_reloads(shop: Shop) -> None:
    who = await shop.guest()
    empty = await get(shop, who)
    assert (empty["id"], empty["lines"], empty["subtotal"], empty["currency"]) == (
        None,
        [],
        0,
        None,
    )
    r = await put(shop, who, [{"variant_id": shop.variant_ids[0], "quantity": 2}])
    assert r.status_code == 200, r.text
    cart = r.json()
    (line,) = cart["lines"]
    assert (line["sku"], line["quantity"], line["unit_price"], line["line_total"]) == (
        "KB-M",
        2,
        38_900_000,
        77_800_000,
    )
    assert (cart["subtotal"], cart["currency"], cart["item_count"]) == (77_800_000, "IDR", 2)
    assert line["title"] == "Kemeja Batik" and line["variant_title"] == "M"
    assert line["problem"] is None
    assert await get(shop, who) == cart  # a reload
    # another guest has a cart of their own
    assert (await get(shop, await shop.guest()))["lines"] == []
    # the price follows the catalog, never the client
    await shop.api(
        "PATCH",
        f"{API}/products/{shop.product_id}/variants/{shop.variant_ids[0]}",
        json={"price": 35_000_000},
    )
    assert (await get(shop, who))["subtotal"] == 70_000_000
    r = await put(shop, who, [{"variant_id": shop.variant_ids[0], "quantity": 1, "price": 1}])
    assert r.status_code == 422
    # the same variant twice is one line
    r = await put(shop, who, [{"variant_id": shop.variant_ids[0], "quantity": 1}] * 2)
    assert [x["quantity"] for x in r.json()["lines"]] == [2]
    # emptying
    assert (await shop.client.delete(cart_url(shop), headers=who)).status_code == 204
    assert (await get(shop, who))["lines"] == []


async def test_a_vouched_shopper_has_one_cart_on_every_device(shop: Shop) -> None:
    phone, laptop = await shop.shopper("cust-1"), await shop.shopper("cust-1")
    await put(shop, phone, [{"variant_id": shop.variant_ids[1], "quantity": 1}])
    assert [x["variant_id"] for x in (await get(shop, laptop))["lines"]] == [shop.variant_ids[1]]
    r = await shop.client.get(cart_url(shop))
    assert r.status_code == 401 and r.json()["error"]["code"] == "shopper_required"
    r = await shop.client.get(cart_url(shop), headers={"X-Pasar-Guest": "g1.x.y"})
    assert r.status_code == 401
    r = await shop.client.get(f"{API}/storefront/vendors/nobody/cart", headers=await shop.guest())
    assert r.status_code == 404


async def test_bad_lines_are_refused_with_their_index_and_change_nothing(
    shop: Shop, client: httpx.AsyncClient, make_vendor: MakeVendor
) -> None:
    who = await shop.guest()
    await put(shop, who, [{"variant_id": shop.variant_ids[0], "quantity": 1}])
    before = await get(shop, who)
    other = await make_shop(client, await make_vendor())
    usd = await shop.api(
        "POST",
        f"{API}/products",
        status=201,
        json={
            "title": "Kopi",
            "currency": "USD",
            "options": ["Size"],
            "variants": [{"sku": "K-1", "options": {"Size": "M"}, "price": 500, "stock": 9}],
        },
    )
    draft = await shop.api(
        "POST",
        f"{API}/products",
        status=201,
        json={
            "title": "Soon",
            "status": "draft",
            "options": ["Size"],
            "variants": [{"sku": "S-1", "options": {"Size": "M"}, "price": 500, "stock": 9}],
        },
    )
    ok = {"variant_id": shop.variant_ids[0], "quantity": 1}
    cases: list[tuple[list[dict[str, Any]], int, str]] = [
        ([ok, {"variant_id": shop.variant_ids[1], "quantity": 3}], 409, "out_of_stock"),
        ([ok, {"variant_id": "var_nothing", "quantity": 1}], 404, "not_found"),
        ([{"variant_id": other.variant_ids[0], "quantity": 1}], 404, "not_found"),
        ([ok, {"variant_id": usd["variants"][0]["id"], "quantity": 1}], 400, "currency_mismatch"),
        ([{"variant_id": draft["variants"][0]["id"], "quantity": 1}], 409, "unavailable"),
        ([{"variant_id": shop.variant_ids[0], "quantity": 0}], 422, "validation_failed"),
        ([{"variant_id": shop.variant_ids[0], "quantity": -1}], 422, "validation_failed"),
        ([{"variant_id": shop.variant_ids[0], "quantity": 1000}], 422, "validation_failed"),
        ([{"variant_id": shop.variant_ids[0]}], 422, "validation_failed"),
        ([{"reservation_id": "rsv_nothing"}], 404, "not_found"),
        (
            [{"variant_id": shop.variant_ids[0], "quantity": 1, "pasar_click": "x"}],
            400,
            "invalid_click",
        ),
        ([ok] * 101, 422, "validation_failed"),
    ]
    for lines, status, code in cases:
        r = await put(shop, who, lines)
        assert (r.status_code, r.json()["error"]["code"]) == (status, code), (lines, r.text)
        if status != 422:
            assert r.json()["error"]["details"]["line"] == len(lines) - 1, r.text
    # out of stock over two lines of the same variant
    r = await put(shop, who, [{"variant_id": shop.variant_ids[1], "quantity": 1}] * 3)
    assert r.status_code == 409 and r.json()["error"]["details"]["available"] == 2
    r = await put(shop, who, [ok], show_id=other.show_id)
    assert r.status_code == 404
    assert await get(shop, who) == before


async def test_deal_lines_hold_the_claims_quantity_and_price(shop: Shop) -> None:
    pinned = await pin(shop)
    deal = await shop.deal(variant_ids=[shop.variant_ids[0]], quantity=5, per_shopper_limit=2)
    who, stranger = await shop.guest(), await shop.guest()
    held = (await shop.claim(deal["id"], who, quantity=2, pin_id=pinned["id"])).json()
    r = await put(shop, who, [{"reservation_id": held["id"]}])
    assert r.status_code == 200, r.text
    (line,) = r.json()["lines"]
    assert (line["quantity"], line["unit_price"], line["deal_id"], line["pin_id"]) == (
        2,
        19_900_000,
        deal["id"],
        pinned["id"],
    )
    assert line["reservation_expires_at"] and line["show_id"] == shop.show_id
    r = await put(shop, who, [{"reservation_id": held["id"], "quantity": 1}])
    assert r.status_code == 400 and r.json()["error"]["code"] == "quantity_mismatch"
    r = await put(shop, stranger, [{"reservation_id": held["id"]}])
    assert r.status_code == 404  # someone else's hold
    # the hold is released: the line says so, and checkout refuses the cart
    await shop.api("POST", f"{API}/reservations/{held['id']}/release")
    after = await get(shop, who)
    assert after["lines"][0]["problem"] == "reservation_released" and after["subtotal"] == 0
    r = await put(shop, who, [{"reservation_id": held["id"]}])
    assert r.status_code == 409 and r.json()["error"]["code"] == "reservation_released"
    await set_template(shop)
    r = await shop.client.post(f"{cart_url(shop)}/checkout", headers=who)
    assert r.status_code == 409 and r.json()["error"]["code"] == "cart_invalid"
    problems = r.json()["error"]["details"]["lines"]
    assert problems == [{"line": 0, "problem": "reservation_released"}]


# -- checkout ------------------------------------------------------------------------------


async def test_checkout_needs_a_template_and_something_in_the_cart(shop: Shop) -> None:
    who = await shop.guest()
    await put(shop, who, [{"variant_id": shop.variant_ids[0], "quantity": 1}])
    r = await shop.client.post(f"{cart_url(shop)}/checkout", headers=who)
    assert r.status_code == 409 and r.json()["error"]["code"] == "no_checkout"
    assert "checkout_url_template" in r.json()["error"]["message"]
    await set_template(shop)
    r = await shop.client.post(f"{cart_url(shop)}/checkout", headers=await shop.guest())
    assert r.status_code == 409 and r.json()["error"]["code"] == "cart_empty"


async def test_checkout_hands_the_cart_over_and_the_vendor_fetches_it(
    app: FastAPI, shop: Shop, client: httpx.AsyncClient, make_vendor: MakeVendor
) -> None:
    await subscribe(client, shop.vendor, "cart.checkout")
    await set_template(shop)
    pinned = await pin(shop)
    deal = await shop.deal(variant_ids=[shop.variant_ids[0]])
    who = await shop.guest()
    held = (await shop.claim(deal["id"], who)).json()
    tapped = (await click(shop, who, variant_id=shop.variant_ids[1]))["click_token"]
    lines = [
        {"reservation_id": held["id"]},
        {"variant_id": shop.variant_ids[1], "quantity": 2, "pasar_click": tapped},
    ]
    r = await put(shop, who, lines)
    assert r.status_code == 200, r.text
    assert r.json()["lines"][1]["pin_id"] == pinned["id"]
    r = await shop.client.post(f"{cart_url(shop)}/checkout", headers=who)
    assert r.status_code == 200, r.text
    out = r.json()
    url = urlsplit(out["checkout_url"])
    query = parse_qs(url.query)
    assert url.netloc == "toko.example" and url.path == "/cart/add"
    assert query["items"] == ["KB-M:1,KB-L:2"]
    assert query["pasar"] == [held["id"]]
    assert query["show"] == [shop.show_id]
    assert query["cart"] == [out["cart_token"]]

    # the vendor's server reads the cart with its key
    fetched = await shop.api("GET", f"{API}/carts/{out['cart_token']}")
    assert fetched["id"] == out["checkout_id"] and fetched["reservation_ids"] == [held["id"]]
    assert fetched["subtotal"] == 19_900_000 + 2 * 38_900_000 and fetched["item_count"] == 3
    assert [(x["sku"], x["quantity"], x["unit_price"]) for x in fetched["lines"]] == [
        ("KB-M", 1, 19_900_000),
        ("KB-L", 2, 38_900_000),
    ]
    assert fetched["lines"][1]["pasar_click"] == tapped
    assert fetched["shopper_id"] == held["shopper_id"]
    # ... and only that vendor
    other = await make_shop(client, await make_vendor())
    await other.api("GET", f"{API}/carts/{out['cart_token']}", status=404)
    head, checkout_id, expires, mac = out["cart_token"].split(".")
    await shop.api("GET", f"{API}/carts/{head}.{checkout_id}.{int(expires) + 60}.{mac}", status=404)
    await shop.api("GET", f"{API}/carts/nonsense", status=404)
    secret = services_of(app).server_secret
    stale = carts.sign_token(secret, checkout_id, datetime.now(UTC) - timedelta(seconds=1))
    r = await shop.api("GET", f"{API}/carts/{stale}", status=404)
    assert r["error"]["code"] == "cart_token_expired"

    # cart.checkout went out with the checkout, in its transaction
    (event,) = await messages(app, "cart.checkout")
    assert event["id"] == out["checkout_id"] and event["checkout_url"] == out["checkout_url"]
    r = await shop.client.post(f"{cart_url(shop)}/checkout", headers=await shop.guest())
    assert r.status_code == 409
    assert len(await messages(app, "cart.checkout")) == 1

    # the order the checkout then reports is attributed through the cart's click
    order = await shop.api(
        "POST",
        f"{API}/orders",
        status=201,
        json={
            "order_ref": "WEB-1",
            "amount": fetched["subtotal"],
            "currency": "IDR",
            "reservation_ids": fetched["reservation_ids"],
            "lines": [
                {
                    "sku": x["sku"],
                    "quantity": x["quantity"],
                    "unit_price": x["unit_price"],
                    **({"pasar_click": x["pasar_click"]} if x["pasar_click"] else {}),
                }
                for x in fetched["lines"]
            ],
        },
    )
    assert [(x["attributed_by"], x["pin_id"]) for x in order["lines"]] == [
        ("reservation", pinned["id"]),  # pinned when claimed
        ("click", pinned["id"]),
    ]


async def test_a_template_with_only_the_cart_token() -> None:
    from pasar.commerce.checkout import Line, render
    from pasar.url_templates import check_checkout_template

    assert check_checkout_template("https://toko.example/pasar?c={cart_token}")
    url = render("https://toko.example/pasar?c={cart_token}", [Line("v", "S", 1)], None, "ct1.a")
    assert url == "https://toko.example/pasar?c=ct1.a"


# -- the embed's events ---------------------------------------------------------------------


def test_embed_event_docs_are_generated_from_the_models() -> None:
    current = (ROOT / "docs" / "embed-events.md").read_text()
    assert current == embed_contract.markdown(), "run `pasar contract --write`"
    for name in ("add-to-cart", "update-cart", "checkout", "cart state"):
        assert f"## `{name}`" in current


def test_embed_payloads_parse() -> None:
    AddToCartEvent.model_validate(
        {
            "type": "add-to-cart",
            "show_id": "show_1",
            "product_id": "prod_1",
            "variant_id": "var_1",
            "sku": "KB-M",
            "quantity": 1,
            "price": 19_900_000,
            "currency": "IDR",
            "reservation_id": "rsv_1",
            "click_token": "pc1.x.y",
        }
    )
    EmbedRefusal.model_validate({"ok": False, "reason": "out_of_stock", "message": "Habis"})
    EmbedRefusal.model_validate({"ok": False, "reason": "store_closed", "message": "Tutup"})
    state = CartState.model_validate(
        {
            "lines": [
                {"sku": "KB-M", "title": "Kemeja", "quantity": 1, "unit_price": 5, "line_total": 5}
            ],
            "subtotal": 5,
            "currency": "IDR",
            "item_count": 1,
            "checkout_url": "https://toko.example/checkout",
        }
    )
    assert json.loads(state.model_dump_json())["item_count"] == 1
