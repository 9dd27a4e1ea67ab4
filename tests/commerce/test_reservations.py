"""After the claim: confirm, release, expiry, the waitlist, and a deal selling out."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import FastAPI

from pasar.clock import utcnow
from tests.commerce.conftest import Shop


async def _hold(shop: Shop, **deal: Any) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    made = await shop.deal(variant_ids=[shop.variant_ids[0]], **deal)
    who = await shop.guest()
    r = await shop.claim(made["id"], who)
    assert r.status_code == 201, r.text
    return made, r.json(), who


def _confirm(ref: str = "ORD-1001", amount: int = 19_900_000, currency: str = "IDR") -> Any:
    return {"order_ref": ref, "amount": amount, "currency": currency}


async def test_confirm_sells_the_units_once(shop: Shop) -> None:
    deal, rsv, _ = await _hold(shop, quantity=3)
    path = f"/api/v1/reservations/{rsv['id']}/confirm"
    done = await shop.api("POST", path, json=_confirm())
    assert done["status"] == "confirmed" and done["order_ref"] == "ORD-1001"
    again = await shop.api("POST", path, json=_confirm())  # a retry changes nothing
    assert again == done
    after = await shop.api("GET", f"/api/v1/deals/{deal['id']}")
    assert (after["units_left"], after["held"], after["sold"]) == (2, 0, 1)
    other = await shop.client.post(path, json=_confirm("ORD-2"), headers=shop.vendor.headers)
    assert other.status_code == 409 and other.json()["error"]["code"] == "already_confirmed"


async def test_confirm_refuses_a_wrong_currency_and_changes_nothing(shop: Shop) -> None:
    _deal, rsv, _ = await _hold(shop)
    path = f"/api/v1/reservations/{rsv['id']}/confirm"
    r = await shop.client.post(path, json=_confirm(currency="USD"), headers=shop.vendor.headers)
    assert r.status_code == 400 and r.json()["error"]["code"] == "currency_mismatch"
    r = await shop.client.post(path, json=_confirm(amount=-5), headers=shop.vendor.headers)
    assert r.status_code == 422
    r = await shop.client.post(path, json=_confirm(amount=10**30), headers=shop.vendor.headers)
    assert r.status_code == 422
    assert (await shop.api("GET", f"/api/v1/reservations/{rsv['id']}"))["status"] == "held"


async def test_an_expired_hold_returns_its_units_and_confirming_it_is_409(
    shop: Shop, app: FastAPI
) -> None:
    deal, rsv, _ = await _hold(shop, quantity=1, hold_seconds=60)
    assert (await shop.api("GET", f"/api/v1/deals/{deal['id']}"))["units_left"] == 0
    expired = await app.state.services.commerce.expire_holds(utcnow() + timedelta(seconds=61))
    assert expired == 1
    assert (await shop.api("GET", f"/api/v1/deals/{deal['id']}"))["units_left"] == 1
    r = await shop.client.post(
        f"/api/v1/reservations/{rsv['id']}/confirm", json=_confirm(), headers=shop.vendor.headers
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "reservation_expired"
    # the unit is claimable again, by anyone
    r = await shop.claim(deal["id"], await shop.guest())
    assert r.status_code == 201, r.text


async def test_a_hold_that_ran_out_cannot_be_confirmed_even_before_the_sweep(shop: Shop) -> None:
    _deal, rsv, _ = await _hold(shop, hold_seconds=30)
    from pasar.commerce.models import Reservation

    services = shop.client._transport.app.state.services  # type: ignore[attr-defined]
    async with services.db.session() as db:
        row = await db.get(Reservation, rsv["id"])
        row.expires_at = utcnow() - timedelta(seconds=1)
        await db.commit()
    r = await shop.client.post(
        f"/api/v1/reservations/{rsv['id']}/confirm", json=_confirm(), headers=shop.vendor.headers
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "reservation_expired"


async def test_release_gives_units_back_and_is_idempotent(shop: Shop) -> None:
    deal, rsv, who = await _hold(shop, quantity=1)
    path = f"/api/v1/reservations/{rsv['id']}/release"
    assert (await shop.api("POST", path))["status"] == "released"
    assert (await shop.api("POST", path))["status"] == "released"
    assert (await shop.api("GET", f"/api/v1/deals/{deal['id']}"))["units_left"] == 1
    # the shopper's allowance came back too
    assert (await shop.claim(deal["id"], who)).status_code == 201
    r = await shop.client.post(
        f"/api/v1/reservations/{rsv['id']}/confirm", json=_confirm(), headers=shop.vendor.headers
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "reservation_released"


async def test_shoppers_see_and_release_only_their_own(shop: Shop) -> None:
    _, rsv, who = await _hold(shop)
    mine = await shop.client.get(f"/api/v1/storefront/reservations/{rsv['id']}", headers=who)
    assert mine.status_code == 200 and mine.json()["id"] == rsv["id"]
    stranger = await shop.guest()
    theirs = await shop.client.get(f"/api/v1/storefront/reservations/{rsv['id']}", headers=stranger)
    assert theirs.status_code == 404
    r = await shop.client.post(
        f"/api/v1/storefront/reservations/{rsv['id']}/release", headers=stranger
    )
    assert r.status_code == 404
    r = await shop.client.post(f"/api/v1/storefront/reservations/{rsv['id']}/release", headers=who)
    assert r.status_code == 200 and r.json()["status"] == "released"


async def test_the_waitlist_gets_returned_units_in_arrival_order(shop: Shop, app: FastAPI) -> None:
    deal, first, _ = await _hold(shop, quantity=1, hold_seconds=60)
    second, third = await shop.guest(), await shop.guest()
    refused = await shop.claim(deal["id"], second)
    assert refused.json()["error"]["details"]["waitlist"] is True
    path = f"/api/v1/storefront/deals/{deal['id']}/waitlist"
    joined = await shop.client.post(path, json={}, headers=second)
    assert joined.status_code == 201 and joined.json()["position"] == 1
    later = await shop.client.post(path, json={}, headers=third)
    assert later.json()["position"] == 2
    again = await shop.client.post(path, json={}, headers=second)  # joining twice keeps the place
    assert again.status_code == 200 and again.json()["position"] == 1
    await app.state.services.commerce.expire_holds(utcnow() + timedelta(seconds=61))
    held = await shop.api("GET", f"/api/v1/reservations?deal_id={deal['id']}&status=held")
    assert len(held["data"]) == 1
    granted = held["data"][0]
    assert granted["id"] != first["id"]
    mine = await shop.client.get(f"/api/v1/storefront/reservations/{granted['id']}", headers=second)
    assert mine.status_code == 200  # the second shopper's, not the third's
    assert (await shop.api("GET", f"/api/v1/deals/{deal['id']}"))["units_left"] == 0


async def test_a_deal_whose_every_unit_is_sold_ends_as_sold_out(shop: Shop) -> None:
    deal, rsv, _ = await _hold(shop, quantity=1)
    await shop.api("POST", f"/api/v1/reservations/{rsv['id']}/confirm", json=_confirm())
    after = await shop.api("GET", f"/api/v1/deals/{deal['id']}")
    assert after["status"] == "ended" and after["end_reason"] == "sold_out"


async def test_cancelling_a_deal_releases_its_holds(shop: Shop) -> None:
    deal, rsv, _ = await _hold(shop, quantity=4)
    ended = await shop.api("POST", f"/api/v1/deals/{deal['id']}/end", json={"reason": "cancelled"})
    assert ended["status"] == "ended" and ended["held"] == 0
    assert (await shop.api("GET", f"/api/v1/reservations/{rsv['id']}"))["status"] == "released"
    r = await shop.client.post(
        f"/api/v1/deals/{deal['id']}/end", json={}, headers=shop.vendor.headers
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "deal_ended"


async def test_deals_end_on_time(shop: Shop, app: FastAPI) -> None:
    deal = await shop.deal(variant_ids=[shop.variant_ids[0]], duration_seconds=10)
    await app.state.services.commerce.tend(utcnow() + timedelta(seconds=11))
    after = await shop.api("GET", f"/api/v1/deals/{deal['id']}")
    assert after["status"] == "ended" and after["end_reason"] == "ended"


async def test_a_shopper_sees_and_leaves_their_place_on_the_waitlist(
    shop: Shop, app: FastAPI
) -> None:
    deal, _, _ = await _hold(shop, quantity=1, hold_seconds=60)
    second, third = await shop.guest(), await shop.guest()
    path = f"/api/v1/storefront/deals/{deal['id']}/waitlist"
    r = await shop.client.get(path, headers=second)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    assert (await shop.client.post(path, json={}, headers=second)).status_code == 201
    assert (await shop.client.post(path, json={}, headers=third)).status_code == 201
    place = await shop.client.get(path, headers=third)
    assert place.status_code == 200
    assert (place.json()["status"], place.json()["position"]) == ("waiting", 2)

    assert (await shop.client.delete(path, headers=second)).status_code == 204
    left = await shop.client.get(path, headers=second)
    assert (left.json()["status"], left.json()["position"]) == ("left", None)
    again = await shop.client.delete(path, headers=second)
    assert again.status_code == 409 and again.json()["error"]["code"] == "not_waiting"
    assert (await shop.client.get(path, headers=third)).json()["position"] == 1  # moved up

    # the unit coming back goes to the one still waiting, not to the one who left
    await app.state.services.commerce.expire_holds(utcnow() + timedelta(seconds=61))
    granted = (await shop.client.get(path, headers=third)).json()
    assert granted["status"] == "granted" and granted["reservation_id"]
    mine = await shop.client.get(
        f"/api/v1/storefront/reservations/{granted['reservation_id']}", headers=third
    )
    assert mine.status_code == 200 and mine.json()["status"] == "held"
    r = await shop.client.delete(path, headers=third)
    assert r.status_code == 409  # granted: there is a reservation to release instead
    assert (await shop.client.get(path)).status_code == 401  # who is asking?
