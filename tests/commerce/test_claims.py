"""Claiming flash deals over the Storefront API: reserve, refuse, replay."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI

from pasar.engagement import actions
from pasar.realtime.events import UserMute
from tests.commerce.conftest import Shop


async def test_a_claim_reserves_units_with_a_hold(shop: Shop) -> None:
    deal = await shop.deal(variant_ids=[shop.variant_ids[0]])
    r = await shop.claim(deal["id"], await shop.guest(), quantity=2)
    assert r.status_code == 201, r.text
    rsv = r.json()
    assert rsv["status"] == "held" and rsv["quantity"] == 2
    assert rsv["variant_id"] == shop.variant_ids[0]
    assert rsv["unit_price"] == 19_900_000 and rsv["currency"] == "IDR"
    assert rsv["id"].startswith("rsv_")
    after = await shop.api("GET", f"/api/v1/deals/{deal['id']}")
    assert (after["units_left"], after["held"], after["sold"]) == (3, 2, 0)


async def test_the_same_key_never_reserves_twice(shop: Shop) -> None:
    deal = await shop.deal(variant_ids=[shop.variant_ids[0]])
    who = await shop.guest()
    first = await shop.claim(deal["id"], who, key="tap-1")
    again = await shop.claim(deal["id"], who, key="tap-1")
    assert first.status_code == 201 and again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    together = await asyncio.gather(*(shop.claim(deal["id"], who, key="tap-2") for _ in range(8)))
    assert len({r.json()["id"] for r in together}) == 1
    assert (await shop.api("GET", f"/api/v1/deals/{deal['id']}"))["held"] == 2


async def test_a_replayed_key_with_another_body_is_409_and_changes_nothing(shop: Shop) -> None:
    deal = await shop.deal(variant_ids=[shop.variant_ids[0]])
    who = await shop.guest()
    assert (await shop.claim(deal["id"], who, key="k", quantity=1)).status_code == 201
    r = await shop.claim(deal["id"], who, key="k", quantity=2)
    assert r.status_code == 409 and r.json()["error"]["code"] == "idempotency_key_reused"
    assert (await shop.api("GET", f"/api/v1/deals/{deal['id']}"))["held"] == 1


async def test_sold_out_and_limit_reached_are_refusals_with_reasons(shop: Shop) -> None:
    deal = await shop.deal(variant_ids=[shop.variant_ids[0]], quantity=3, per_shopper_limit=2)
    a, b = await shop.guest(), await shop.guest()
    assert (await shop.claim(deal["id"], a, quantity=2)).status_code == 201
    over = await shop.claim(deal["id"], a, quantity=1)
    assert over.status_code == 409 and over.json()["error"]["code"] == "limit_reached"
    assert (await shop.claim(deal["id"], b, quantity=1)).status_code == 201
    gone = await shop.claim(deal["id"], b, quantity=1)
    assert gone.status_code == 409
    error = gone.json()["error"]
    assert error["code"] == "sold_out"
    assert error["details"] == {"reason": "sold_out", "units_left": 0, "waitlist": True}


async def test_not_started_and_ended(shop: Shop) -> None:
    later = await shop.deal(variant_ids=[shop.variant_ids[0]], starts_in_seconds=3600)
    r = await shop.claim(later["id"], await shop.guest())
    assert r.status_code == 409 and r.json()["error"]["code"] == "not_started"
    now = await shop.deal(variant_ids=[shop.variant_ids[0]])
    await shop.api("POST", f"/api/v1/deals/{now['id']}/end", json={})
    r = await shop.claim(now["id"], await shop.guest())
    assert r.status_code == 409 and r.json()["error"]["code"] == "ended"


async def test_signed_in_only_deals_refuse_guests(shop: Shop) -> None:
    deal = await shop.deal(variant_ids=[shop.variant_ids[0]], signed_in_only=True)
    r = await shop.claim(deal["id"], await shop.guest())
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_allowed"
    r = await shop.claim(deal["id"], await shop.shopper("cust-1"))
    assert r.status_code == 201
    assert r.json()["shopper_id"] == "shopper:cust-1"


async def test_the_per_shopper_limit_holds_across_devices(shop: Shop) -> None:
    deal = await shop.deal(variant_ids=[shop.variant_ids[0]], quantity=10, per_shopper_limit=2)
    phone, laptop = await shop.shopper("cust-9"), await shop.shopper("cust-9")
    answers = await asyncio.gather(*(shop.claim(deal["id"], d) for d in [phone, laptop] * 3))
    assert sorted(r.status_code for r in answers) == [201, 201, 409, 409, 409, 409]
    assert (await shop.api("GET", f"/api/v1/deals/{deal['id']}"))["held"] == 2


async def test_a_burst_never_oversells(shop: Shop) -> None:
    deal = await shop.deal(variant_ids=[shop.variant_ids[0]], quantity=7, per_shopper_limit=1)
    guests = [await shop.guest() for _ in range(40)]
    answers = await asyncio.gather(*(shop.claim(deal["id"], g) for g in guests))
    codes = [r.status_code for r in answers]
    assert codes.count(201) == 7 and codes.count(409) == 33
    listed = await shop.api("GET", f"/api/v1/reservations?deal_id={deal['id']}")
    assert sum(r["quantity"] for r in listed["data"]) == 7


async def test_claims_need_a_shopper_and_a_key(shop: Shop) -> None:
    deal = await shop.deal(variant_ids=[shop.variant_ids[0]])
    path = f"/api/v1/storefront/deals/{deal['id']}/claims"
    r = await shop.client.post(path, json={}, headers={"Idempotency-Key": "x"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "shopper_required"
    r = await shop.client.post(path, json={}, headers=await shop.guest())
    assert r.status_code == 400 and r.json()["error"]["code"] == "idempotency_key_required"
    bad = {"X-Pasar-Guest": "g1.forged-guest-id.AAAA", "Idempotency-Key": "x"}
    r = await shop.client.post(path, json={}, headers=bad)
    assert r.status_code == 401 and r.json()["error"]["code"] == "bad_shopper_token"


async def test_bad_claims_are_4xx_and_change_nothing(shop: Shop) -> None:
    deal = await shop.deal()  # both variants: the claim must say which
    who = await shop.guest()
    cases = [
        ({}, 400, "variant_required"),
        ({"variant_id": "var_nope"}, 400, "unknown_variant"),
        ({"variant_id": shop.variant_ids[0], "quantity": -1}, 422, "validation_failed"),
        ({"variant_id": shop.variant_ids[0], "quantity": 0}, 422, "validation_failed"),
        ({"variant_id": shop.variant_ids[0], "quantity": 10**12}, 422, "validation_failed"),
        ({"variant_id": shop.variant_ids[0], "colour": "red"}, 422, "validation_failed"),
    ]
    for body, status, code in cases:
        r = await shop.claim(deal["id"], who, **body)
        assert (r.status_code, r.json()["error"]["code"]) == (status, code), body
    r = await shop.claim("deal_unknown", who)
    assert r.status_code == 404
    assert (await shop.api("GET", f"/api/v1/deals/{deal['id']}"))["held"] == 0


async def test_claims_are_credited_to_the_pin_on_screen(shop: Shop) -> None:
    deal = await shop.deal(variant_ids=[shop.variant_ids[0]])
    unpinned = await shop.claim(deal["id"], await shop.guest())
    assert unpinned.json()["pin_id"] is None
    on_show = f"/api/v1/shows/{shop.show_id}/pins"
    pin = await shop.api("POST", on_show, status=201, json={"product_id": shop.product_id})
    r = await shop.claim(deal["id"], await shop.guest())
    assert r.json()["pin_id"] == pin["id"]  # the embed did not say: the pin on screen now
    r = await shop.claim(deal["id"], await shop.guest(), pin_id=pin["id"])
    assert r.status_code == 201 and r.json()["pin_id"] == pin["id"]
    r = await shop.claim(deal["id"], await shop.guest(), pin_id="pin_01NOTAPINOFTHISSHOW00000")
    assert r.status_code == 400 and r.json()["error"]["code"] == "unknown_pin"


async def test_a_banned_shopper_is_not_allowed(shop: Shop) -> None:
    deal = await shop.deal(variant_ids=[shop.variant_ids[0]])
    who = await shop.shopper("troll-7")
    assert (await shop.claim(deal["id"], who)).status_code == 201  # the show is now cached
    await shop.api(
        "POST",
        f"/api/v1/shows/{shop.show_id}/sanctions",
        status=201,
        json={"user_id": "shopper:troll-7", "ban": True, "reason": "spam"},
    )
    r = await shop.claim(deal["id"], who, quantity=1)
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_allowed"


async def test_a_ban_from_the_staff_socket_stops_claims_at_once(app: FastAPI, shop: Shop) -> None:
    """The staff socket's ban goes through ``actions.staff_action`` (as the socket
    session calls it); it used to leave the show's cached bans for up to 2 s."""
    services = app.state.services
    deal = await shop.deal(variant_ids=[shop.variant_ids[0]])
    who = await shop.shopper("troll-8")
    assert (await shop.claim(deal["id"], who)).status_code == 201  # the show is now cached
    ban = UserMute(type="user.mute", user_id="shopper:troll-8", ban=True, reason="spam")
    await actions.staff_action(
        services.db,
        services.realtime,
        shop.vendor.id,
        shop.show_id,
        "staff:host",
        ban,
        services.chat.standings,
    )
    r = await shop.claim(deal["id"], who, quantity=1)
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_allowed"


async def test_a_lifted_ban_lets_the_shopper_claim_at_once(shop: Shop) -> None:
    deal = await shop.deal(variant_ids=[shop.variant_ids[0]], per_shopper_limit=3)
    who = await shop.shopper("forgiven-1")
    sanction = await shop.api(
        "POST",
        f"/api/v1/shows/{shop.show_id}/sanctions",
        status=201,
        json={"user_id": "shopper:forgiven-1", "ban": True, "reason": "spam"},
    )
    assert (await shop.claim(deal["id"], who)).status_code == 403  # the ban is now cached
    await shop.api("DELETE", f"/api/v1/shows/{shop.show_id}/sanctions/{sanction['id']}", status=204)
    r = await shop.claim(deal["id"], who)
    assert r.status_code == 201, r.text


async def test_a_claim_carries_the_vendors_checkout_url_when_it_can(shop: Shop) -> None:
    deal = await shop.deal(variant_ids=[shop.variant_ids[0]])
    who = await shop.guest()

    async def claimed_url(template: str) -> Any:
        await shop.api("PATCH", "/api/v1/vendor", json={"checkout_url_template": template})
        r = await shop.claim(deal["id"], who)
        assert r.status_code == 201, r.text
        return r.json()

    sku = (await shop.api("GET", f"/api/v1/products/{shop.product_id}"))["variants"][0]["sku"]
    first = await claimed_url("https://toko.example/co?items={lines}&hold={reservation_ids}")
    assert first["checkout_url"] == f"https://toko.example/co?items={sku}:1&hold={first['id']}"
    # only a hosted-cart token: a claim has no cart, so no URL of its own
    second = await claimed_url("https://toko.example/co?cart={cart_token}")
    assert second["checkout_url"] is None


async def test_a_rotated_shopper_secret_stops_old_tokens_at_once(shop: Shop) -> None:
    deal = await shop.deal(variant_ids=[shop.variant_ids[0]], quantity=10)
    old = await shop.shopper("cust-9")
    assert (await shop.claim(deal["id"], old)).status_code == 201
    await shop.api("POST", "/api/v1/vendor/shopper-secret/rotate")
    r = await shop.claim(deal["id"], old)
    assert r.status_code == 401 and r.json()["error"]["code"] == "bad_shopper_token"
    assert (await shop.claim(deal["id"], await shop.shopper("cust-9"))).status_code == 201
