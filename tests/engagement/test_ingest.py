"""Chat ingest (group commit) and the moderation standing kept in memory.

Messages sent together are stored in one transaction, published only after it
committed, in the order they were sent; a bad message cannot fail the others;
and a moderation change made on one node reaches the chat path of another.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from pasar.engagement import moderation
from pasar.engagement.errors import EngagementError
from pasar.engagement.identity import new_guest
from pasar.engagement.models import ChatMessageRow
from pasar.engagement.standing import Standings
from pasar.realtime.broker import Broker, Position
from pasar.realtime.memory import MemoryBroker
from pasar.realtime.redis import RedisBroker
from pasar.services import Services
from tests.conftest import REDIS_TIMEOUTS, REDIS_URL, VendorCtx, service_missing


async def _show(client: httpx.AsyncClient, vendor: VendorCtx) -> str:
    r = await client.post("/api/v1/shows", json={"title": "Harbolnas"}, headers=vendor.headers)
    assert r.status_code == 201, r.text
    show_id: str = r.json()["id"]
    return show_id


async def _chat_events(services: Services, show_id: str) -> list[dict[str, Any]]:
    broker = services.realtime.broker
    epoch = (await broker.position(show_id)).epoch
    events = await broker.history(show_id, Position(epoch, 0))
    return [e["data"] for _, env in events if (e := json.loads(env))["type"] == "chat.message"]


async def test_messages_sent_together_are_stored_together_and_published_in_order(
    app: FastAPI, client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    services: Services = app.state.services
    show_id = await _show(client, vendor)
    guests = [new_guest(services.server_secret) for _ in range(30)]
    before = services.chat.batches
    posted = await asyncio.gather(
        *(
            services.chat.send(vendor.id, show_id, g, None, f"halo {n}")
            for n, g in enumerate(guests)
        )
    )
    assert [p.status for p in posted] == ["visible"] * 30
    # 30 senders, a handful of transactions (one per writer pass), not 30.
    assert services.chat.batches - before <= 3
    async with services.db.read() as db:
        stored = (await db.execute(select(ChatMessageRow.text))).scalars().all()
    assert sorted(stored) == sorted(f"halo {n}" for n in range(30))
    published = [e["text"] for e in await _chat_events(services, show_id)]
    assert published == [f"halo {n}" for n in range(30)]


async def test_a_message_is_published_only_once_it_is_stored(
    app: FastAPI, client: httpx.AsyncClient, vendor: VendorCtx, monkeypatch: pytest.MonkeyPatch
) -> None:
    services: Services = app.state.services
    show_id = await _show(client, vendor)
    seen_stored: list[bool] = []
    publish_many = services.realtime.publish_many

    async def checking(events: list[tuple[str, str, dict[str, Any]]]) -> list[Position]:
        async with services.db.read() as db:  # another connection: committed rows only
            for _, _, data in events:
                seen_stored.append(await db.get(ChatMessageRow, data["id"]) is not None)
        return await publish_many(events)

    monkeypatch.setattr(services.realtime, "publish_many", checking)
    guests = [new_guest(services.server_secret) for _ in range(5)]
    await asyncio.gather(*(services.chat.send(vendor.id, show_id, g, None, "hi") for g in guests))
    assert seen_stored == [True] * 5


async def test_a_message_that_cannot_be_stored_fails_alone(
    app: FastAPI, client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    services: Services = app.state.services
    show_id = await _show(client, vendor)
    guest = new_guest(services.server_secret)
    results = await asyncio.gather(
        services.chat.send(vendor.id, show_id, guest, None, "first"),
        # No such show: the row breaks its foreign key, and with it the batch.
        services.chat.send(vendor.id, "shw_missing", guest, None, "lost"),
        services.chat.send(vendor.id, show_id, guest, None, "second"),
        return_exceptions=True,
    )
    assert [getattr(r, "status", None) for r in results] == ["visible", None, "visible"]
    assert isinstance(results[1], Exception)
    assert [e["text"] for e in await _chat_events(services, show_id)] == ["first", "second"]


async def test_bad_text_is_refused_before_it_is_queued(
    app: FastAPI, client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    services: Services = app.state.services
    show_id = await _show(client, vendor)
    with pytest.raises(EngagementError) as refused:
        await services.chat.send(vendor.id, show_id, new_guest("s"), None, "   ")
    assert refused.value.code == "empty_message"
    assert await _chat_events(services, show_id) == []


@pytest.fixture(params=["memory", "redis"])
async def broker(request: pytest.FixtureRequest) -> Any:
    made: Broker
    if request.param == "memory":
        made = MemoryBroker(min_events=10, min_seconds=1, max_events=50)
    else:
        made = RedisBroker(
            REDIS_URL,
            min_events=10,
            min_seconds=1,
            max_events=50,
            connect_timeout=REDIS_TIMEOUTS["socket_connect_timeout"],
        )
        try:
            await made.generations(["probe"])
        except Exception as exc:
            await made.redis.aclose()
            service_missing("Redis", f"{REDIS_URL}: {exc}")
    yield made
    if isinstance(made, RedisBroker):
        await made.redis.aclose()


async def test_a_mute_on_one_node_reaches_the_chat_path_of_another(
    app: FastAPI, client: httpx.AsyncClient, vendor: VendorCtx, broker: Broker
) -> None:
    """Two nodes' standings over one broker: node B keeps its copy (no database
    read per message) until node A says the vendor's moderation changed."""
    services: Services = app.state.services
    show_id = await _show(client, vendor)
    guest = new_guest(services.server_secret)
    node_a, node_b = Standings(services.db, broker), Standings(services.db, broker)
    assert (await node_b.one(vendor.id, show_id)).sanction_for(guest.id, None) is None

    async with services.db.session() as db:
        await moderation.sanction(
            db, vendor.id, show_id, guest.id, minutes=10, banned=False, reason="spam", actor="t"
        )
        await db.commit()
    # Not announced yet: B still holds what it read (it is a copy, not a read-through).
    assert (await node_b.one(vendor.id, show_id)).sanction_for(guest.id, None) is None

    await node_a.changed(vendor.id)
    muted = (await node_b.one(vendor.id, show_id)).sanction_for(guest.id, None)
    assert muted is not None and muted.reason == "spam"
    # Another vendor's change does not make B reload this one's shows.
    held = await node_b.one(vendor.id, show_id)
    await node_a.changed("ven_someone_else")
    assert await node_b.one(vendor.id, show_id) is held


async def test_a_copy_is_never_older_than_max_age(
    app: FastAPI, client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    """The bound for a change whose announcement failed (the broker was down)."""
    services: Services = app.state.services
    show_id = await _show(client, vendor)
    standings = Standings(services.db, MemoryBroker(min_events=1, min_seconds=1, max_events=5))
    first = await standings.one(vendor.id, show_id)
    assert await standings.one(vendor.id, show_id) is first
    standings.max_age = 0.0
    assert await standings.one(vendor.id, show_id) is not first
