"""Helpers for the orders, coupons and carts tests: an app whose webhook outbox can be
read (endpoints on loopback allowed, the sender stopped so rows stay as written)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from pasar.app import create_app
from pasar.services import Services
from pasar.webhooks.models import WebhookMessage
from tests.commerce.conftest import Shop
from tests.conftest import VendorCtx, _truncate, make_settings, product_body

API = "/api/v1"


@contextlib.asynccontextmanager
async def running_app(database_url: str, tmp_path: Path) -> AsyncIterator[FastAPI]:
    """The app on the SQL stock engine (these features do not touch the engine)."""
    settings = make_settings(database_url, tmp_path / "data", webhook_allow_private_networks=True)
    application = create_app(settings)
    await _truncate(application.state.services.db)
    async with application.router.lifespan_context(application):
        await services_of(application).webhooks.stop()
        yield application


def services_of(app: FastAPI) -> Services:
    services: Services = app.state.services
    return services


async def subscribe(client: httpx.AsyncClient, vendor: VendorCtx, *event_types: str) -> None:
    r = await client.post(
        f"{API}/webhooks/endpoints",
        json={"url": "http://127.0.0.1:9/hook", "event_types": list(event_types)},
        headers=vendor.headers,
    )
    assert r.status_code == 201, r.text


async def messages(app: FastAPI, event_type: str) -> list[dict[str, Any]]:
    """The ``data`` of every outbox message of this type, oldest first."""
    async with services_of(app).db.session() as db:
        rows = await db.execute(
            select(WebhookMessage.body)
            .where(WebhookMessage.event_type == event_type)
            .order_by(WebhookMessage.id)
        )
        return [json.loads(body)["data"] for (body,) in rows]


async def pin(shop: Shop, product_id: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = await shop.api(
        "POST",
        f"{API}/shows/{shop.show_id}/pins",
        status=201,
        json={"product_id": product_id or shop.product_id},
    )
    return out


async def click(
    shop: Shop,
    who: dict[str, str] | None = None,
    product_id: str | None = None,
    variant_id: str | None = None,
    status: int = 201,
) -> dict[str, Any]:
    body: dict[str, Any] = {"product_id": product_id or shop.product_id}
    if variant_id:
        body["variant_id"] = variant_id
    r = await shop.client.post(
        f"{API}/storefront/shows/{shop.show_id}/clicks", json=body, headers=who or {}
    )
    assert r.status_code == status, r.text
    out: dict[str, Any] = r.json()
    return out


async def add_product(shop: Shop, **product: Any) -> dict[str, Any]:
    """Another product, added to the shop's show line-up."""
    tag = product.get("handle", "other").upper()
    product.setdefault(
        "variants", [{"sku": f"{tag}-1", "options": {"Size": "M"}, "price": 10_000, "stock": 9}]
    )
    created: dict[str, Any] = await shop.api(
        "POST", f"{API}/products", status=201, json=product_body(**product)
    )
    show = await shop.api("GET", f"{API}/shows/{shop.show_id}")
    lineup = [item["product_id"] for item in show["lineup"]]
    await shop.api(
        "PUT", f"{API}/shows/{shop.show_id}/lineup", json={"product_ids": [*lineup, created["id"]]}
    )
    return created
