from __future__ import annotations

import httpx

from tests.conftest import VendorCtx, product_body


async def test_health_and_ready(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json()["status"] == "ok"
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["database"] == "ok"


async def test_create_and_read_product(client: httpx.AsyncClient, vendor: VendorCtx) -> None:
    created = await client.post("/api/v1/products", json=product_body(), headers=vendor.headers)
    assert created.status_code == 201, created.text
    pid = created.json()["id"]
    got = await client.get(f"/api/v1/products/{pid}", headers=vendor.headers)
    assert got.json()["variants"][0]["options"] == {"Size": "M"}
    assert got.json()["variants"][0]["price_display"] == "Rp389.000"
