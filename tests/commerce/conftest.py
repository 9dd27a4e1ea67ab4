"""A vendor with a product in a show's line-up, and helpers to deal and claim."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis

from pasar.app import create_app
from pasar.db.engine import Database
from tests.conftest import (
    POSTGRES_ADMIN_URL,
    REDIS_TIMEOUTS,
    REDIS_URL,
    VendorCtx,
    _report_left_behind,
    _truncate,
    make_settings,
    product_body,
    service_missing,
)


@pytest.fixture(params=["sql", pytest.param("redis", marks=pytest.mark.redis)])
def stock_engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def app(database_url: str, tmp_path: Path, stock_engine: str) -> AsyncIterator[FastAPI]:
    """The app on each database with each stock engine (the Redis one on the real server)."""
    extra: dict[str, Any] = {}
    if stock_engine == "redis":
        redis = Redis.from_url(REDIS_URL, **REDIS_TIMEOUTS)
        try:
            await redis.ping()
        except Exception as exc:
            service_missing("Redis", f"{REDIS_URL}: {exc}")
        finally:
            await redis.aclose()
        extra = {"stock_engine": "redis", "redis_url": REDIS_URL}
    application = create_app(make_settings(database_url, tmp_path / "data", **extra))
    await _truncate(application.state.services.db)
    async with application.router.lifespan_context(application):
        yield application
    _report_left_behind(application)


@dataclass
class Shop:
    client: httpx.AsyncClient
    vendor: VendorCtx
    show_id: str
    product_id: str
    variant_ids: list[str]

    async def api(self, method: str, path: str, *, status: int = 200, **kw: Any) -> Any:
        r = await self.client.request(method, path, headers=self.vendor.headers, **kw)
        assert r.status_code == status, f"{method} {path}: {r.status_code} {r.text}"
        return r.json() if r.content else None

    async def deal(self, status: int = 201, **over: Any) -> Any:
        body: dict[str, Any] = {
            "product_id": self.product_id,
            "price": 19_900_000,
            "currency": "IDR",
            "quantity": 5,
            "per_shopper_limit": 2,
        }
        body.update(over)
        if "per_shopper_limit" not in over:
            body["per_shopper_limit"] = min(2, body["quantity"])
        return await self.api(
            "POST", f"/api/v1/shows/{self.show_id}/deals", status=status, json=body
        )

    async def guest(self) -> dict[str, str]:
        r = await self.client.post("/api/v1/storefront/guests")
        assert r.status_code == 201, r.text
        return {"X-Pasar-Guest": r.json()["guest_token"]}

    async def shopper(self, sub: str) -> dict[str, str]:
        """A shopper the vendor vouches for (any device: same ``sub``)."""
        secret = (await self.api("GET", "/api/v1/vendor/shopper-secret"))["secret"]
        token = jwt.encode({"sub": sub, "exp": int(time.time()) + 600}, secret, "HS256")
        return {"X-Pasar-Shopper": token}

    async def claim(
        self, deal_id: str, who: dict[str, str], key: str | None = None, **body: Any
    ) -> httpx.Response:
        headers = {**who, "Idempotency-Key": key or uuid.uuid4().hex}
        return await self.client.post(
            f"/api/v1/storefront/deals/{deal_id}/claims", json=body, headers=headers
        )


async def make_shop(client: httpx.AsyncClient, vendor: VendorCtx, **product: Any) -> Shop:
    r = await client.post("/api/v1/products", json=product_body(**product), headers=vendor.headers)
    assert r.status_code == 201, r.text
    created = r.json()
    r = await client.post(
        "/api/v1/shows",
        json={"title": "Harbolnas Live", "product_ids": [created["id"]]},
        headers=vendor.headers,
    )
    assert r.status_code == 201, r.text
    return Shop(
        client, vendor, r.json()["id"], created["id"], [v["id"] for v in created["variants"]]
    )


@pytest.fixture
async def shop(client: httpx.AsyncClient, vendor: VendorCtx) -> Shop:
    return await make_shop(client, vendor)


@pytest.fixture
def pg_database() -> Iterator[str]:
    """A database of its own on the shared PostgreSQL server."""
    name = f"pasar_faults_{uuid.uuid4().hex[:10]}"

    async def admin(sql: str) -> None:
        db = Database(POSTGRES_ADMIN_URL)
        try:
            async with db.engine.connect() as conn:
                await (await conn.execution_options(isolation_level="AUTOCOMMIT")).exec_driver_sql(
                    sql
                )
        finally:
            await db.dispose()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
