"""With PASAR_WEBHOOK_ALLOW_PRIVATE_NETWORKS off (the default), endpoints cannot point
into the operator's network: refused when saved, and refused again at connection time
(DNS can change after the check). The app here sends nothing (concurrency 0): these
tests never make a request to anything but loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from pasar.app import create_app
from pasar.clock import utcnow
from pasar.ids import new_id
from pasar.services import Services
from pasar.webhooks import enqueue
from pasar.webhooks.dispatcher import Dispatcher
from pasar.webhooks.models import WebhookEndpoint
from pasar.webhooks.signing import new_secret
from tests.conftest import VendorCtx, _truncate, make_settings
from tests.webhooks.conftest import API, deliveries
from tests.webhooks.receiver import Receiver


@pytest.fixture
async def app(database_url: str, tmp_path: Path) -> AsyncIterator[FastAPI]:
    settings = make_settings(database_url, tmp_path / "data", webhook_concurrency=0)
    assert settings.webhook_allow_private_networks is False
    application = create_app(settings)
    await _truncate(application.state.services.db)
    async with application.router.lifespan_context(application):
        yield application


REFUSED = [
    "http://127.0.0.1/hook",
    "http://127.1.2.3:8080/hook",
    "https://localhost/hook",
    "http://LOCALHOST./hook",
    "http://api.localhost/hook",
    "http://10.0.0.5/hook",
    "http://172.16.3.4/hook",
    "http://192.168.1.1/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://100.64.0.1/hook",
    "http://0.0.0.0/hook",
    "http://224.0.0.1/hook",
    "http://255.255.255.255/hook",
    "http://[::1]/hook",
    "http://[::]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://[::ffff:169.254.169.254]/hook",
    "http://[fe80::1]/hook",
    "http://[fd00::1]/hook",
    "http://[ff02::1]/hook",
    "http://[2002:7f00:1::]/hook",  # 6to4 around 127.0.0.1
    "http://[64:ff9b::a00:1]/hook",  # NAT64 around 10.0.0.1
    "http://2130706433/hook",  # 127.0.0.1 as one number
    "http://0x7f.1/hook",
    "http://192.0.2.1/hook",  # documentation range
]


@pytest.mark.parametrize("url", REFUSED)
async def test_private_urls_are_refused_when_saved(
    client: httpx.AsyncClient, vendor: VendorCtx, url: str
) -> None:
    r = await client.post(
        f"{API}/endpoints", json={"url": url, "event_types": ["show.live"]}, headers=vendor.headers
    )
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["code"] == "url_not_allowed"
    assert "PASAR_WEBHOOK_ALLOW_PRIVATE_NETWORKS" in error["message"]


async def test_public_urls_are_accepted_and_patches_checked(
    client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    # An address literal needs no DNS; a name that does not resolve (yet) is accepted
    # and checked again at each delivery.
    for url in ("https://93.184.215.14/hook", "https://[2606:4700::6810:84e5]/hook"):
        r = await client.post(
            f"{API}/endpoints",
            json={"url": url, "event_types": ["show.live"]},
            headers=vendor.headers,
        )
        assert r.status_code == 201, r.text
    endpoint = r.json()
    r = await client.patch(
        f"{API}/endpoints/{endpoint['id']}",
        json={"url": "http://169.254.169.254/"},
        headers=vendor.headers,
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "url_not_allowed"
    got = await client.get(f"{API}/endpoints/{endpoint['id']}", headers=vendor.headers)
    assert got.json()["url"] == "https://[2606:4700::6810:84e5]/hook"


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_a_url_that_turned_private_is_refused_at_send_time(
    app: FastAPI, client: httpx.AsyncClient, vendor: VendorCtx, receiver: Receiver, host: str
) -> None:
    """As if the name had resolved to a public address when saved and to loopback now:
    the row is written directly, and the connection is refused and logged."""
    services: Services = app.state.services
    async with services.db.session() as db:
        endpoint = WebhookEndpoint(
            id=new_id("ep"),
            vendor_id=vendor.id,
            url=f"http://{host}:{receiver.port}/hook",
            description="",
            event_types=["show.live"],
            enabled=True,
            secret_sealed=services.box.seal(new_secret()),
            created_at=utcnow(),
            updated_at=utcnow(),
        )
        db.add(endpoint)
        await db.flush()
        await enqueue(db, vendor.id, "show.live", {"id": "show_x"})
        await db.commit()
    dispatcher = Dispatcher(services.db, services.box, allow_private=False, concurrency=4)
    try:
        assert await dispatcher.run_once() == 1
    finally:
        await dispatcher.close()
    [delivery] = await deliveries(client, vendor, endpoint.id)
    [attempt] = delivery["attempts"]
    assert attempt["status_code"] is None
    assert attempt["error"].startswith("refused:") and "not a public address" in attempt["error"]
    assert delivery["status"] == "pending"  # retried later: DNS may change back
    assert receiver.requests == []
