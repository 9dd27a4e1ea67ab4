"""A show's end closes its deals and takes its pins off screen, however it ends
and on every node (both stock engines, both databases)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from pasar.app import create_app
from pasar.services import Services
from tests.commerce.conftest import Shop
from tests.commerce.selling import add_product, messages, pin
from tests.conftest import REDIS_URL, make_settings

API = "/api/v1"


def _services(app: FastAPI) -> Services:
    services: Services = app.state.services
    return services


async def _a_selling_show(shop: Shop) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """A live show with a running deal, a deal counting down and three pins."""
    await shop.api("POST", f"{API}/shows/{shop.show_id}/transitions", json={"to": "live"})
    running = await shop.deal(variant_ids=[shop.variant_ids[0]])
    later = await shop.deal(variant_ids=[shop.variant_ids[1]], starts_in_seconds=60)
    others = [await add_product(shop, handle=f"other-{i}") for i in range(2)]
    pins = [await pin(shop)] + [await pin(shop, p["id"]) for p in others]
    return running, later, [p["id"] for p in pins]


async def _assert_closed(
    shop: Shop, app: FastAPI, deals: list[dict[str, Any]], pin_ids: list[str]
) -> None:
    for deal in deals:
        after = await shop.api("GET", f"{API}/deals/{deal['id']}")
        assert (after["status"], after["end_reason"]) == ("ended", "ended")
        assert (await shop.claim(deal["id"], await shop.guest())).json()["error"]["code"] in (
            "ended",
            "not_started",  # nothing to claim before its start either way
        )
    active = await shop.api("GET", f"{API}/shows/{shop.show_id}/pins", params={"active": True})
    assert active == []
    ended = {d["id"] for d in await messages(app, "deal.ended")}
    assert ended == {d["id"] for d in deals}
    unpinned = [m["pin_id"] for m in await messages(app, "product.unpinned")]
    assert sorted(unpinned) == sorted(pin_ids)  # each announced once


async def test_ending_the_show_closes_its_deals_and_unpins(app: FastAPI, shop: Shop) -> None:
    await shop.api(
        "POST",
        f"{API}/webhooks/endpoints",
        status=201,
        json={"url": "https://hooks.example/p", "event_types": ["deal.ended", "product.unpinned"]},
    )
    running, later, pin_ids = await _a_selling_show(shop)
    holder = await shop.guest()
    held = await shop.claim(running["id"], holder)
    assert held.status_code == 201, held.text

    await shop.api("POST", f"{API}/shows/{shop.show_id}/transitions", json={"to": "ended"})

    r = await shop.claim(running["id"], await shop.guest())
    assert r.status_code == 409, r.text
    assert r.json()["error"]["code"] == "ended"
    await _assert_closed(shop, app, [running, later], pin_ids)
    # The hold made before the end stays valid until it runs out.
    mine = await shop.client.get(
        f"{API}/storefront/reservations/{held.json()['id']}", headers=holder
    )
    assert mine.json()["status"] == "held"
    snapshot = await _on_screen(app, shop.show_id)
    assert snapshot.deals == [] and snapshot.pinned_products == []


async def _on_screen(app: FastAPI, show_id: str) -> Any:
    services = _services(app)
    async with services.db.session() as db:
        return await services.commerce.on_screen(db, show_id, services.storage)


async def test_the_media_plane_ending_the_show_closes_them_too(app: FastAPI, shop: Shop) -> None:
    """WHIP DELETE, a dropout's grace and external media hooks all end a show
    through ``ShowLifecycle.end``."""
    await shop.api(
        "POST",
        f"{API}/webhooks/endpoints",
        status=201,
        json={"url": "https://hooks.example/p", "event_types": ["deal.ended", "product.unpinned"]},
    )
    running, later, pin_ids = await _a_selling_show(shop)
    await _services(app).media.end(shop.show_id)
    assert (await shop.api("GET", f"{API}/shows/{shop.show_id}"))["state"] == "ended"
    await _assert_closed(shop, app, [running, later], pin_ids)


async def test_the_repair_pass_closes_what_a_dead_node_left_open(app: FastAPI, shop: Shop) -> None:
    """The node that ended the show died before closing its deals: any node's
    loop finishes the job."""
    running, _, _ = await _a_selling_show(shop)
    services = _services(app)
    hooks, services.lifecycle.on_ended = services.lifecycle.on_ended, []
    try:
        await shop.api("POST", f"{API}/shows/{shop.show_id}/transitions", json={"to": "ended"})
    finally:
        services.lifecycle.on_ended = hooks
    assert (await shop.claim(running["id"], await shop.guest())).status_code == 201
    await services.commerce._close_ended_shows()
    r = await shop.claim(running["id"], await shop.guest())
    assert r.status_code == 409 and r.json()["error"]["code"] == "ended"
    assert await shop.api("GET", f"{API}/shows/{shop.show_id}/pins", params={"active": True}) == []


@contextlib.asynccontextmanager
async def _another_node(database_url: str, tmp_path: Path, engine: str) -> AsyncIterator[FastAPI]:
    extra: dict[str, Any] = {}
    if engine == "redis":
        extra = {"stock_engine": "redis", "redis_url": REDIS_URL}
    node = create_app(make_settings(database_url, tmp_path / "node-b", **extra))
    async with node.router.lifespan_context(node):
        yield node


async def test_a_claim_on_another_node_is_refused_after_the_end(
    app: FastAPI, shop: Shop, database_url: str, tmp_path: Path, stock_engine: str
) -> None:
    """Node B has the deal's terms cached (a claim went through it); the show
    ends on node A; B refuses the next claim from the record (and Redis)."""
    running, _, _ = await _a_selling_show(shop)
    async with _another_node(database_url, tmp_path, stock_engine) as node:
        transport = httpx.ASGITransport(app=node)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as b:
            on_b = Shop(b, shop.vendor, shop.show_id, shop.product_id, shop.variant_ids)
            assert (await on_b.claim(running["id"], await on_b.guest())).status_code == 201
            await shop.api("POST", f"{API}/shows/{shop.show_id}/transitions", json={"to": "ended"})
            r = await on_b.claim(running["id"], await on_b.guest())
            assert r.status_code == 409, r.text
            assert r.json()["error"]["code"] == "ended"


async def test_no_new_deals_or_pins_on_an_ended_show(shop: Shop) -> None:
    await shop.api("POST", f"{API}/shows/{shop.show_id}/transitions", json={"to": "live"})
    await shop.api("POST", f"{API}/shows/{shop.show_id}/transitions", json={"to": "ended"})
    refused = await shop.deal(status=409)
    assert refused["error"]["code"] == "show_over"
    r = await shop.client.post(
        f"{API}/shows/{shop.show_id}/pins",
        json={"product_id": shop.product_id},
        headers=shop.vendor.headers,
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "show_over"


async def test_a_show_that_is_not_over_keeps_its_deals(app: FastAPI, shop: Shop) -> None:
    """The hook runs after any publisher's end; a scheduled show's deals stay."""
    deal = await shop.deal(variant_ids=[shop.variant_ids[0]])
    await _services(app).commerce.show_ended(shop.show_id)
    assert (await shop.api("GET", f"{API}/deals/{deal['id']}"))["status"] == "live"
