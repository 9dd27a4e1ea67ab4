"""What a vendor may not set up: a deal that is no discount."""

from __future__ import annotations

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
