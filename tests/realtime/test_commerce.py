"""Live commerce over the show socket, as the embed will do it: a shopper sees the
pinned product, claims the deal over HTTP and gets the vendor's checkout URL,
while another shopper's socket sees the units left fall."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import unquote

import httpx

from tests.conftest import product_body
from tests.realtime.client import Clients, Viewer
from tests.realtime.conftest import LiveServer, ShowCtx, staff_socket


async def _stock_the_show(show: ShowCtx) -> dict[str, Any]:
    product: dict[str, Any] = await show.api(
        "POST", "/api/v1/products", status=201, json=product_body(title="Kebaya Encim")
    )
    await show.api("PUT", show.show_api("/lineup"), json={"product_ids": [product["id"]]})
    await show.api(
        "PATCH",
        "/api/v1/vendor",
        json={
            "checkout_url_template": "https://toko.example/cart?items={lines}&hold={reservation_ids}"
        },
    )
    return product


async def _shopper(clients: Clients, show: ShowCtx) -> tuple[Viewer, dict[str, str]]:
    """A guest on the socket, and the headers that make HTTP calls as the same guest."""
    v = await clients.connect(show.server.url, show.show_id)
    me = (await v.next("snapshot"))["data"]["me"]
    return v, {"X-Pasar-Guest": me["guest_token"]}


async def _claim(http: httpx.AsyncClient, deal_id: str, who: dict[str, str]) -> httpx.Response:
    return await http.post(
        f"/api/v1/storefront/deals/{deal_id}/claims",
        json={},
        headers={**who, "Idempotency-Key": uuid.uuid4().hex},
    )


async def test_a_shopper_sees_the_pin_claims_and_gets_the_checkout_url(
    server: LiveServer, show: ShowCtx, clients: Clients, http: httpx.AsyncClient
) -> None:
    product = await _stock_the_show(show)
    variant = product["variants"][0]
    first, first_headers = await _shopper(clients, show)
    second, _ = await _shopper(clients, show)

    pin = await show.api(
        "POST", show.show_api("/pins"), status=201, json={"product_id": product["id"]}
    )
    for v in (first, second):
        pinned = (await v.next("product.pinned"))["data"]
        assert pinned["pin_id"] == pin["id"]
        assert pinned["product"]["title"] == "Kebaya Encim"
        assert [x["available"] for x in pinned["product"]["variants"]] == [True, True]

    deal = await show.api(
        "POST",
        show.show_api("/deals"),
        status=201,
        json={
            "product_id": product["id"],
            "variant_ids": [variant["id"]],
            "price": 9_900_000,
            "currency": "IDR",
            "quantity": 3,
            "per_shopper_limit": 1,
        },
    )
    started = (await second.next("deal.started"))["data"]
    assert started["deal_id"] == deal["id"] and started["units_left"] == 3

    r = await _claim(http, deal["id"], first_headers)
    assert r.status_code == 201, r.text
    reservation = r.json()
    url = unquote(reservation["checkout_url"])
    assert url == f"https://toko.example/cart?items=KB-M:1&hold={reservation['id']}"
    assert reservation["pin_id"] == pin["id"]  # credited to the pin on screen
    await second.wait_for("deal.updated", lambda e: e["data"]["units_left"] == 2)

    others = [(await _shopper(clients, show))[1] for _ in range(3)]
    answers = [await _claim(http, deal["id"], h) for h in others]
    assert [a.status_code for a in answers] == [201, 201, 409]
    await second.wait_for("deal.updated", lambda e: e["data"]["units_left"] == 0)
    falling = [e["data"]["units_left"] for e in second.seen("deal.updated")]
    assert falling == sorted(falling, reverse=True) and falling[-1] == 0

    late, _ = await _shopper(clients, show)
    snapshot = late.events[0]["data"]
    assert [p["pin_id"] for p in snapshot["pinned_products"]] == [pin["id"]]
    assert [(d["deal_id"], d["units_left"]) for d in snapshot["deals"]] == [(deal["id"], 0)]


async def test_the_waitlisted_shopper_hears_the_units_are_theirs(
    server: LiveServer, show: ShowCtx, clients: Clients, http: httpx.AsyncClient
) -> None:
    product = await _stock_the_show(show)
    deal = await show.api(
        "POST",
        show.show_api("/deals"),
        status=201,
        json={
            "product_id": product["id"],
            "variant_ids": [product["variants"][0]["id"]],
            "price": 9_900_000,
            "currency": "IDR",
            "quantity": 1,
            "per_shopper_limit": 1,
        },
    )
    _, holder = await _shopper(clients, show)
    waiting, waiting_headers = await _shopper(clients, show)
    held = (await _claim(http, deal["id"], holder)).json()
    assert (await _claim(http, deal["id"], waiting_headers)).status_code == 409
    joined = await http.post(
        f"/api/v1/storefront/deals/{deal['id']}/waitlist", json={}, headers=waiting_headers
    )
    assert joined.status_code == 201, joined.text
    r = await http.post(f"/api/v1/storefront/reservations/{held['id']}/release", headers=holder)
    assert r.status_code == 200
    granted = (await waiting.next("waitlist.granted"))["data"]
    assert granted["deal_id"] == deal["id"]
    mine = await http.get(
        f"/api/v1/storefront/reservations/{granted['reservation_id']}", headers=waiting_headers
    )
    assert mine.status_code == 200 and mine.json()["status"] == "held"


async def test_unpinning_and_ending_reach_every_viewer(
    server: LiveServer, show: ShowCtx, clients: Clients
) -> None:
    product = await _stock_the_show(show)
    staff = await staff_socket(clients, show)
    watcher, _ = await _shopper(clients, show)
    pin = await show.api(
        "POST", show.show_api("/pins"), status=201, json={"product_id": product["id"]}
    )
    deal = await show.api(
        "POST",
        show.show_api("/deals"),
        status=201,
        json={"product_id": product["id"], "price": 100, "currency": "IDR", "quantity": 2},
    )
    await show.api("DELETE", show.show_api(f"/pins/{pin['id']}"), status=204)
    await show.api("POST", f"/api/v1/deals/{deal['id']}/end", json={})
    for v in (staff, watcher):
        assert (await v.next("product.unpinned"))["data"]["pin_id"] == pin["id"]
        ended = (await v.next("deal.ended"))["data"]
        assert ended == {"deal_id": deal["id"], "reason": "ended"}
    late, _ = await _shopper(clients, show)
    assert late.events[0]["data"]["pinned_products"] == []
    assert late.events[0]["data"]["deals"] == []


async def test_ending_the_show_ends_its_deals_and_unpins_for_every_viewer(
    server: LiveServer, show: ShowCtx, clients: Clients, http: httpx.AsyncClient
) -> None:
    product = await _stock_the_show(show)
    variant = product["variants"][0]["id"]
    watcher, watcher_headers = await _shopper(clients, show)  # the show is live
    pin = await show.api(
        "POST", show.show_api("/pins"), status=201, json={"product_id": product["id"]}
    )
    deals = [
        await show.api(
            "POST",
            show.show_api("/deals"),
            status=201,
            json={"product_id": product["id"], "variant_ids": [variant], **terms},
        )
        for terms in (
            {"price": 100, "currency": "IDR", "quantity": 2},
            {"price": 100, "currency": "IDR", "quantity": 2, "starts_in_seconds": 60},
        )
    ]
    await show.api("POST", show.show_api("/transitions"), json={"to": "ended"})
    await watcher.wait_for("product.unpinned", lambda e: e["data"]["pin_id"] == pin["id"])
    await watcher.wait_for("deal.ended", lambda e: len(watcher.seen("deal.ended")) == len(deals))
    ended = [e["data"] for e in watcher.seen("deal.ended")]
    assert sorted(e["deal_id"] for e in ended) == sorted(d["id"] for d in deals)
    assert {e["reason"] for e in ended} == {"ended"}
    r = await _claim(http, deals[0]["id"], watcher_headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "ended"
    late, _ = await _shopper(clients, show)
    assert late.events[0]["data"]["pinned_products"] == []
    assert late.events[0]["data"]["deals"] == []
