"""A reservation's webhook leaves at once: commerce wakes the dispatcher after the
commit that queued it, instead of leaving it to the dispatcher's next poll."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from pasar.app import create_app
from pasar.webhooks import dispatcher
from tests.commerce.conftest import make_shop
from tests.conftest import REDIS_URL, VendorCtx, _truncate, make_settings
from tests.webhooks.receiver import Receiver


@pytest.fixture
async def app(
    database_url: str, tmp_path: Path, stock_engine: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[FastAPI]:
    # A poll an hour apart: only a nudge can bring the message out within the test.
    monkeypatch.setattr(dispatcher, "POLL_SECONDS", 3600.0)
    extra: dict[str, Any] = {"webhook_allow_private_networks": True}
    if stock_engine == "redis":
        extra |= {"stock_engine": "redis", "redis_url": REDIS_URL}
    application = create_app(make_settings(database_url, tmp_path / "data", **extra))
    await _truncate(application.state.services.db)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with Receiver().running() as r:
        yield r


async def test_a_reservations_webhook_leaves_before_the_next_poll(
    client: httpx.AsyncClient, vendor: VendorCtx, receiver: Receiver
) -> None:
    shop = await make_shop(client, vendor)
    r = await client.post(
        "/api/v1/webhooks/endpoints",
        json={"url": receiver.url(), "event_types": ["reservation.created"]},
        headers=vendor.headers,
    )
    assert r.status_code == 201, r.text
    deal = await shop.deal(variant_ids=[shop.variant_ids[0]])
    claim = await shop.claim(deal["id"], await shop.guest())
    assert claim.status_code == 201, claim.text

    [got] = await receiver.wait_for("/hook", 1, within=20.0)
    assert b'"reservation.created"' in got.body
    assert claim.json()["id"].encode() in got.body
