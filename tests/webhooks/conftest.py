"""Webhook tests: an app that may deliver to loopback (tests run there), a real
receiver, and helpers to look at and steer deliveries in the database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from pasar.app import create_app
from pasar.clock import utcnow
from pasar.services import Services
from pasar.webhooks.models import WebhookDelivery
from tests.conftest import VendorCtx, _truncate, make_settings
from tests.webhooks.receiver import Receiver

API = "/api/v1/webhooks"


@pytest.fixture
async def app(database_url: str, tmp_path: Path) -> AsyncIterator[FastAPI]:
    """The shared app fixture, with loopback endpoints allowed."""
    settings = make_settings(database_url, tmp_path / "data", webhook_allow_private_networks=True)
    application = create_app(settings)
    await _truncate(application.state.services.db)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with Receiver().running() as r:
        yield r


def services_of(app: FastAPI) -> Services:
    services: Services = app.state.services
    return services


async def create_endpoint(
    client: httpx.AsyncClient, vendor: VendorCtx, url: str, **extra: Any
) -> dict[str, Any]:
    body = {"url": url, "event_types": ["webhook.test"], **extra}
    r = await client.post(f"{API}/endpoints", json=body, headers=vendor.headers)
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


async def deliveries(
    client: httpx.AsyncClient, vendor: VendorCtx, endpoint_id: str
) -> list[dict[str, Any]]:
    r = await client.get(
        f"{API}/endpoints/{endpoint_id}/deliveries", params={"limit": 100}, headers=vendor.headers
    )
    assert r.status_code == 200, r.text
    data: list[dict[str, Any]] = r.json()["data"]
    return data


async def make_due(app: FastAPI, delivery_id: str) -> None:
    """Bring a retry forward to now instead of sleeping through the backoff."""
    services = services_of(app)
    async with services.db.session() as db:
        await db.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id)
            .values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )
        await db.commit()
    services.webhooks.nudge()


async def wait_delivery(
    client: httpx.AsyncClient,
    vendor: VendorCtx,
    delivery_id: str,
    *,
    attempts: int,
    within: float = 15.0,
) -> dict[str, Any]:
    """The delivery once its log holds ``attempts`` attempts (and none is in flight)."""
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        r = await client.get(f"{API}/deliveries/{delivery_id}", headers=vendor.headers)
        assert r.status_code == 200, r.text
        out: dict[str, Any] = r.json()
        if len(out["attempts"]) >= attempts and out["status"] != "sending":
            return out
        if loop.time() > deadline:
            raise AssertionError(f"delivery did not reach {attempts} attempts: {out}")
        await asyncio.sleep(0.05)
