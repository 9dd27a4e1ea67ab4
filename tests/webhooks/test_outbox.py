"""The transactional outbox, claiming across nodes, and surviving a restart."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from pasar.app import create_app
from pasar.db.engine import Database
from pasar.services import Services
from pasar.webhooks import enqueue
from pasar.webhooks.dispatcher import CLOSE_GRACE_SECONDS, LEASE, Dispatcher
from pasar.webhooks.models import WebhookDelivery, WebhookMessage
from tests.conftest import VendorCtx, make_settings
from tests.webhooks.conftest import API, create_endpoint, services_of
from tests.webhooks.receiver import Receiver


async def _count(services: Services, model: type[WebhookMessage] | type[WebhookDelivery]) -> int:
    async with services.db.session() as db:
        return int((await db.execute(select(func.count()).select_from(model))).scalar_one())


async def test_a_message_exists_only_if_the_callers_change_commits(
    app: FastAPI, client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    services = services_of(app)
    # No endpoint: nothing is written at all.
    async with services.db.session() as db:
        await enqueue(db, vendor.id, "show.live", {"id": "show_1"})
        await db.commit()
    assert await _count(services, WebhookMessage) == 0

    await create_endpoint(client, vendor, "http://127.0.0.1:9/a", event_types=["show.live"])
    await create_endpoint(client, vendor, "http://127.0.0.1:9/b", event_types=["show.live"])
    await create_endpoint(client, vendor, "http://127.0.0.1:9/c", event_types=["show.ended"])
    off = await create_endpoint(
        client, vendor, "http://127.0.0.1:9/d", event_types=["show.live"], enabled=False
    )
    assert off["enabled"] is False
    async with services.db.session() as db:
        await enqueue(db, vendor.id, "show.live", {"id": "show_1"})
        await db.rollback()
    assert await _count(services, WebhookMessage) == 0
    assert await _count(services, WebhookDelivery) == 0

    async with services.db.session() as db:
        await enqueue(db, vendor.id, "show.live", {"id": "show_1"})
        await db.commit()
    assert await _count(services, WebhookMessage) == 1
    assert await _count(services, WebhookDelivery) == 2  # a and b: subscribed and on

    with pytest.raises(ValueError, match="unknown webhook event type"):
        async with services.db.session() as db:
            await enqueue(db, vendor.id, "show.exploded", {})


async def test_a_refused_request_leaves_no_event(
    app: FastAPI, client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    """A show create that fails validation rolls back its show.scheduled with it."""
    await create_endpoint(client, vendor, "http://127.0.0.1:9/a", event_types=["show.scheduled"])
    r = await client.post(
        "/api/v1/shows",
        json={"title": "x", "product_ids": ["prod_01JNOTHING000000000000000"]},
        headers=vendor.headers,
    )
    assert r.status_code == 400, r.text
    assert await _count(services_of(app), WebhookMessage) == 0


async def test_two_nodes_never_claim_the_same_delivery(
    app: FastAPI, client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    services = services_of(app)
    await services.webhooks.stop()  # only the two "nodes" below claim
    endpoint = await create_endpoint(client, vendor, "http://127.0.0.1:9/a")
    for _ in range(30):
        await client.post(f"{API}/endpoints/{endpoint['id']}/test", headers=vendor.headers)
    nodes = [Database(services.db.url) for _ in range(2)]
    dispatchers = [
        Dispatcher(db, services.box, allow_private=True, concurrency=20, per_endpoint=20)
        for db in nodes
    ]
    try:
        ids: list[str] = []

        async def drain(d: Dispatcher) -> None:
            for _ in range(100):  # a claim that lost every row to the other node is empty
                ids.extend(job.delivery_id for job in await d._claim(7, Counter()))
                if len(ids) >= 30:
                    return

        await asyncio.gather(*(drain(d) for d in dispatchers))
        assert len(ids) == 30 and len(set(ids)) == 30
        # Claimed ones are leased: not due again until the lease runs out…
        assert await dispatchers[0]._claim(20, Counter()) == []
        # …after which (the node died mid-send) another node takes them.
        later = services.webhooks.clock() + LEASE + timedelta(seconds=1)
        dispatchers[1].clock = lambda: later
        again = await dispatchers[1]._claim(20, Counter())
        assert len(again) == 20
    finally:
        for d in dispatchers:
            await d.close()
        for db in nodes:
            await db.dispose()


async def test_deliveries_survive_a_restart(
    database_url: str, tmp_path: Path, app: FastAPI, vendor: VendorCtx, receiver: Receiver
) -> None:
    """Queued on a node that sends nothing and then stops; a node started later on the
    same database delivers it."""
    settings = make_settings(
        database_url,
        tmp_path / "quiet",
        webhook_concurrency=0,
        webhook_allow_private_networks=True,
    )
    quiet = create_app(settings)
    async with quiet.router.lifespan_context(quiet):
        transport = httpx.ASGITransport(app=quiet)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            endpoint = await create_endpoint(c, vendor, receiver.url())
            await c.post(f"{API}/endpoints/{endpoint['id']}/test", headers=vendor.headers)
    assert receiver.requests == []
    # `app` (allowed to reach loopback) has been running all along: it finds the
    # delivery at its next poll, as a node started after the restart would.
    [got] = await receiver.wait_for("/hook", 1)
    assert got.headers["webhook-id"].startswith("msg_")


async def test_old_delivery_logs_are_purged_but_waiting_ones_kept(
    app: FastAPI, client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    from sqlalchemy import update

    from pasar.webhooks.dispatcher import RETENTION

    services = services_of(app)
    await services.webhooks.stop()
    endpoint = await create_endpoint(client, vendor, "http://127.0.0.1:9/a")
    url = f"{API}/endpoints/{endpoint['id']}"
    sent = (await client.post(f"{url}/test", headers=vendor.headers)).json()
    waiting = (await client.post(f"{url}/test", headers=vendor.headers)).json()
    async with services.db.session() as db:
        await db.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == sent["id"])
            .values(status="succeeded", next_attempt_at=None)
        )
        await db.commit()
    assert await services.webhooks.purge() == 0  # both are recent
    later = services.webhooks.clock() + RETENTION + timedelta(days=1)
    services.webhooks.clock = lambda: later
    assert await services.webhooks.purge() == 1  # the sent one; the waiting one stays
    log = (await client.get(f"{url}/deliveries", headers=vendor.headers)).json()["data"]
    assert [d["id"] for d in log] == [waiting["id"]]
    assert await _count(services, WebhookMessage) == 1
    assert await _count(services, WebhookDelivery) == 1


async def test_stopping_right_after_a_nudge_stops_at_once(app: FastAPI) -> None:
    """A nudge just before stop (a show ending as the node shuts down) must not swallow
    the stop: the loop ends at once, not after stop() gave up waiting for it."""
    services = services_of(app)
    dispatcher = Dispatcher(services.db, services.box, allow_private=True, concurrency=1)
    await dispatcher.start()
    assert dispatcher._loops.running
    await asyncio.sleep(0.2)  # idle: nothing is due, so it waits to be nudged
    started = asyncio.get_running_loop().time()
    dispatcher.nudge()
    await dispatcher.close()
    assert asyncio.get_running_loop().time() - started < CLOSE_GRACE_SECONDS / 2
    assert not dispatcher._loops.running
