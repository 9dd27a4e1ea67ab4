"""What a vendor may not set up: a deal that is no discount, a checkout URL
template that formats more than it fills in."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import update

from pasar.services import Services
from pasar.vendors.models import Vendor
from tests.commerce.conftest import Shop

API = "/api/v1"


async def test_a_deal_priced_at_or_above_the_product_is_refused(shop: Shop) -> None:
    # The shirt is Rp 389.000 (38_900_000 minor units); the vendor typed extra digits.
    for price in (9_999_999_900, 38_900_000):
        error = (await shop.deal(status=400, price=price))["error"]
        assert error["code"] == "price_not_discounted"
        assert "below" in error["message"] and "38900000" in error["message"]
        assert error["details"] == {"variant_ids": shop.variant_ids, "max_price": 38_899_999}
    assert await shop.api("GET", f"{API}/shows/{shop.show_id}/deals") == []
    deal = await shop.deal(price=38_899_999)
    assert deal["price"] == 38_899_999


async def test_the_cheapest_covered_variant_bounds_the_price(shop: Shop) -> None:
    product = await shop.api("GET", f"{API}/products/{shop.product_id}")
    cheap = product["variants"][1]["id"]
    await shop.api(
        "PATCH", f"{API}/products/{shop.product_id}/variants/{cheap}", json={"price": 10_000_000}
    )
    error = (await shop.deal(status=400, price=19_900_000))["error"]
    assert error["details"] == {"variant_ids": [cheap], "max_price": 9_999_999}
    # A deal on the other variant alone is a discount on it.
    await shop.deal(price=19_900_000, variant_ids=[shop.variant_ids[0]])


async def test_drafts_and_archived_products_are_neither_pinned_nor_sold(shop: Shop) -> None:
    """Shoppers only see active products (the show document leaves the rest out),
    so what they cannot see cannot be on screen or on sale either."""
    pins = f"{API}/shows/{shop.show_id}/pins"
    for status in ("draft", "archived"):
        await shop.api("PATCH", f"{API}/products/{shop.product_id}", json={"status": status})
        error = (await shop.deal(status=409))["error"]
        assert error["code"] == "product_not_active" and status in error["message"]
        body = {"product_id": shop.product_id}
        error = (await shop.api("POST", pins, status=409, json=body))["error"]
        assert error["code"] == "product_not_active"
    assert await shop.api("GET", f"{API}/shows/{shop.show_id}/deals") == []
    assert await shop.api("GET", pins) == []
    await shop.api("PATCH", f"{API}/products/{shop.product_id}", json={"status": "active"})
    await shop.deal()
    await shop.api("POST", pins, status=201, json={"product_id": shop.product_id})


async def test_checkout_templates_take_only_bare_placeholders(shop: Shop) -> None:
    good = "https://toko.example/co?items={lines}&hold={reservation_ids}"
    await shop.api("PATCH", f"{API}/vendor", json={"checkout_url_template": good})
    for bad, named in (
        ("https://toko.example/co?items={lines:>1000000000}", "{lines:>1000000000}"),
        ("https://toko.example/co?items={lines!r}", "{lines!r}"),
        ("https://toko.example/co?items={lines:{show_id}}", "{lines:{show_id}}"),
        ("https://toko.example/co?items={lines[0]}", "{lines[0]}"),
        ("https://toko.example/co?items={lines.real}", "{lines.real}"),
        ("https://toko.example/co?items={lines}&x={}", "{}"),
    ):
        r = await shop.client.patch(
            f"{API}/vendor", json={"checkout_url_template": bad}, headers=shop.vendor.headers
        )
        assert r.status_code == 422, (bad, r.text)
        assert r.json()["error"]["code"] == "validation_failed"
        assert named in r.text, r.text
    assert (await shop.api("GET", f"{API}/vendor"))["checkout_url_template"] == good


async def test_a_format_spec_saved_before_the_check_is_never_rendered(
    app: FastAPI, shop: Shop
) -> None:
    services: Services = app.state.services
    async with services.db.session() as db:
        await db.execute(
            update(Vendor)
            .where(Vendor.id == shop.vendor.id)
            .values(checkout_url_template="https://toko.example/co?items={lines:>100000}")
        )
        await db.commit()
    services.commerce.vendor_changed(shop.vendor.id)
    deal = await shop.deal(variant_ids=[shop.variant_ids[0]])
    r = await shop.claim(deal["id"], await shop.guest())
    assert r.status_code == 201, r.text
    assert r.json()["checkout_url"] is None
