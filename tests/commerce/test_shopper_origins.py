"""Shopper actions in the Storefront API only from Pasar's own pages and the vendor's
allowed embed origins (issue 11: "the Storefront API and socket accept only those
origins for shopper actions"). Requests without an Origin (servers, curl) are not
browser pages and stay allowed; reads of a show or a deal stay open to anyone."""

from __future__ import annotations

from typing import Any

from tests.commerce.conftest import Shop

ALLOWED = "https://toko.example"
STRANGER = "https://evil.example"


async def allow(shop: Shop, *origins: str) -> None:
    await shop.api("PATCH", "/api/v1/vendor", json={"allowed_origins": list(origins)})
    # The origins are read through the vendor cache: start from a fresh read.
    shop.client._transport.app.state.services.commerce._vendors.clear()  # type: ignore[attr-defined]


def refused(r: Any) -> bool:
    return bool(r.status_code == 403 and r.json()["error"]["code"] == "origin_not_allowed")


async def test_claims_from_a_page_the_vendor_did_not_allow_are_refused(shop: Shop) -> None:
    await allow(shop, ALLOWED)
    deal = await shop.deal(variant_ids=shop.variant_ids[:1])
    who = await shop.guest()
    r = await shop.claim(deal["id"], {**who, "Origin": STRANGER})
    assert refused(r), r.text
    assert "allowed embed origins" in r.json()["error"]["message"]
    # Nothing was reserved.
    after = await shop.api("GET", f"/api/v1/deals/{deal['id']}")
    assert after["held"] == 0 and after["units_left"] == deal["quantity"]
    # The same shopper from the vendor's page, from Pasar's own, or not from a page.
    assert (await shop.claim(deal["id"], {**who, "Origin": ALLOWED})).status_code == 201
    public = str(shop.client.base_url).rstrip("/")
    assert (await shop.claim(deal["id"], {**who, "Origin": public + "/"})).status_code == 201
    other = await shop.guest()
    assert (await shop.claim(deal["id"], other)).status_code == 201


async def test_every_shopper_action_checks_the_origin(shop: Shop) -> None:
    await allow(shop, ALLOWED)
    deal = await shop.deal(quantity=1, per_shopper_limit=1, variant_ids=shop.variant_ids[:1])
    who = await shop.guest()
    ok = await shop.claim(deal["id"], who)
    assert ok.status_code == 201
    rid = ok.json()["id"]
    bad = {**who, "Origin": STRANGER}
    c = shop.client
    slug = shop.vendor.slug
    calls = [
        c.post(f"/api/v1/storefront/deals/{deal['id']}/waitlist", json={}, headers=bad),
        c.get(f"/api/v1/storefront/deals/{deal['id']}/waitlist", headers=bad),
        c.delete(f"/api/v1/storefront/deals/{deal['id']}/waitlist", headers=bad),
        c.get(f"/api/v1/storefront/reservations/{rid}", headers=bad),
        c.post(f"/api/v1/storefront/reservations/{rid}/release", headers=bad),
        c.get(f"/api/v1/storefront/vendors/{slug}/cart", headers=bad),
        c.put(f"/api/v1/storefront/vendors/{slug}/cart", json={"lines": []}, headers=bad),
        c.delete(f"/api/v1/storefront/vendors/{slug}/cart", headers=bad),
        c.post(f"/api/v1/storefront/vendors/{slug}/cart/checkout", headers=bad),
        c.post(
            f"/api/v1/storefront/shows/{shop.show_id}/clicks",
            json={"product_id": shop.product_id},
            headers={"Origin": STRANGER},
        ),
    ]
    for call in calls:
        r = await call
        assert refused(r), f"{r.request.method} {r.request.url.path}: {r.status_code} {r.text}"
    # The reservation is still held (the refused release changed nothing).
    mine = await c.get(f"/api/v1/storefront/reservations/{rid}", headers=who)
    assert mine.json()["status"] == "held"


async def test_reading_a_show_or_a_deal_stays_open(shop: Shop) -> None:
    await allow(shop, ALLOWED)
    deal = await shop.deal()
    headers = {"Origin": STRANGER}
    assert (
        await shop.client.get(f"/api/v1/storefront/deals/{deal['id']}", headers=headers)
    ).status_code == 200
    r = await shop.client.get(f"/api/v1/storefront/shows/{shop.show_id}", headers=headers)
    assert r.status_code == 200
    assert (await shop.client.post("/api/v1/storefront/guests", headers=headers)).status_code == 201
