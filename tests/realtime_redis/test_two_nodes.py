"""Two (and three) ``pasar serve`` processes on one Redis and one PostgreSQL.

The issue's multi-node promises, with real processes and real WebSocket clients:
a message sent on node A reaches a viewer on node B and back; viewer counts add
up across nodes; when a node is SIGKILLed its viewers resume on another node
with ``?since=`` and miss nothing, and the dead node's viewers drop out of the
count within the presence TTL; and events that Pub/Sub loses while a node's
subscription connection is down are repaired from the Redis history.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from redis.asyncio import Redis

from pasar.bootstrap import add_vendor_with_owner, open_services
from pasar.realtime.broker import dumps
from pasar.realtime.redis import _PUBLISH, _k
from pasar.settings import Settings
from pasar.shows.schemas import ShowIn
from pasar.shows.service import create_show
from pasar.vendors import service as vendors
from tests.conftest import POSTGRES_ADMIN_URL, REDIS_TIMEOUTS, REDIS_URL, service_missing
from tests.realtime_redis.conftest import kill_pubsub_connections
from tests.realtime_redis.nodes import PRESENCE_TTL, Node, Viewer, contiguous, start_nodes

pytestmark = [pytest.mark.redis, pytest.mark.postgres]

SECRET = "two-node-test-secret"


@dataclass
class Cluster:
    a: Node
    b: Node
    env: dict[str, str]
    data_dir: Path
    shows: dict[str, str]
    staff_cookie: str

    def nodes(self) -> list[Node]:
        return [self.a, self.b]


async def _seed(database_url: str, data_dir: Path, names: list[str]) -> tuple[dict[str, str], str]:
    settings = Settings(
        database_url=database_url,
        data_dir=data_dir / "seed",
        secret_key=SECRET,  # type: ignore[arg-type]
        auto_migrate=False,
    )
    slug = f"nodes-{uuid.uuid4().hex[:10]}"
    email, password = f"owner@{slug}.example", "correct horse battery"
    async with open_services(settings) as services:
        async with services.db.session() as db:
            created = await add_vendor_with_owner(
                db, services, name="Two Nodes", slug=slug, email=email, password=password
            )
            shows = {}
            for name in names:
                show = await create_show(
                    db, services.box, created.vendor_id, ShowIn(title=f"Show {name}")
                )
                shows[name] = show.id
            await db.commit()
        async with services.db.session() as db:
            session = await vendors.login(
                db,
                services.passwords,
                email=email,
                password=password,
                ttl=timedelta(hours=1),
                max_age=timedelta(hours=1),
            )
            await db.commit()
    return shows, session.token


@pytest.fixture(scope="module")
def cluster(
    postgres_url: str | Exception, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    if isinstance(postgres_url, Exception):
        service_missing("PostgreSQL", f"{POSTGRES_ADMIN_URL}: {postgres_url}")
    try:
        client = redis.Redis.from_url(REDIS_URL, **REDIS_TIMEOUTS)
        client.ping()
        client.flushdb()
        client.close()
    except Exception as exc:
        service_missing("Redis", f"{REDIS_URL}: {type(exc).__name__}: {exc}")
    assert isinstance(postgres_url, str)
    data_dir = tmp_path_factory.mktemp("nodes")
    names = ["chat", "counts", "repair", "flush", "kill"]
    shows, cookie = asyncio.run(_seed(postgres_url, data_dir, names))
    env = {
        "PASAR_DATABASE_URL": postgres_url,
        "PASAR_REDIS_URL": REDIS_URL,
        "PASAR_SECRET_KEY": SECRET,
    }
    a, b = start_nodes(env, ["a", "b"], data_dir)
    try:
        yield Cluster(a, b, env, data_dir, shows, cookie)
    finally:
        for node in (a, b):
            node.stop()
        with contextlib.suppress(Exception):
            client = redis.Redis.from_url(REDIS_URL, **REDIS_TIMEOUTS)
            client.flushdb()
            client.close()


@pytest.fixture
async def viewers() -> Any:
    """Open viewers; all closed after the test."""
    opened: list[Viewer] = []

    async def open_(node: Node, show_id: str, **kw: Any) -> Viewer:
        viewer = await Viewer.open(node, show_id, **kw)
        opened.append(viewer)
        if not kw.get("since"):
            await viewer.ready()
        return viewer

    yield open_
    for viewer in opened:
        await viewer.close()
    for viewer in opened:
        assert not viewer.problems, viewer.problems


def _alive(cluster: Cluster) -> None:
    for node in cluster.nodes():
        assert node.proc.poll() is None, f"node {node.name} died:\n{node.log_tail()}"


# -- across nodes -------------------------------------------------------------------


async def test_chat_crosses_nodes_both_ways(cluster: Cluster, viewers: Any) -> None:
    show = cluster.shows["chat"]
    on_a = await viewers(cluster.a, show)
    on_b = await viewers(cluster.b, show)

    await on_a.chat("halo dari A")
    await on_b.until(lambda: "halo dari A" in on_b.texts(), "A's message on B")
    await on_b.chat("halo dari B")
    await on_a.until(lambda: "halo dari B" in on_a.texts(), "B's message on A")
    for viewer in (on_a, on_b):
        await viewer.until(lambda v=viewer: len(v.texts()) == 2, "both messages")
        assert viewer.texts() == ["halo dari A", "halo dari B"]
    # The same numbered events, in the same order, on both nodes.
    start = (await on_a.ready())["epoch"], (await on_a.ready())["offset"]
    assert contiguous(on_a.numbered(), start) == []
    assert on_a.numbered() == on_b.numbered()
    _alive(cluster)


async def test_viewer_counts_add_up_across_nodes(cluster: Cluster, viewers: Any) -> None:
    show = cluster.shows["counts"]
    a1 = await viewers(cluster.a, show)
    a2 = await viewers(cluster.a, show)
    b1 = await viewers(cluster.b, show)
    for viewer in (a1, a2, b1):
        await viewer.until(lambda v=viewer: v.viewers() == 3, "viewers = 3")

    b2 = await viewers(cluster.b, show)
    for viewer in (a1, a2, b1, b2):
        await viewer.until(lambda v=viewer: v.viewers() == 4, "viewers = 4")

    await a2.close()  # a clean leave counts at once, on both nodes
    for viewer in (a1, b1, b2):
        await viewer.until(lambda v=viewer: v.viewers() == 3, "viewers = 3 after a leave")
    _alive(cluster)


# -- Pub/Sub losses are repaired from history ------------------------------------------


async def _publish_unannounced(client: Redis, show_id: str, text: str, like: dict[str, Any]) -> int:
    """Number and store a chat message the way the broker does, but never PUBLISH
    it: exactly what a node misses while its Pub/Sub connection is down."""
    script = _PUBLISH.replace("redis.call('PUBLISH', KEYS[4], off .. ' ' .. env)\n", "")
    assert script != _PUBLISH
    data = {**like, "id": f"msg_{uuid.uuid4().hex[:20]}", "text": text}
    keys = [_k(show_id, k) for k in ("epoch", "off", "hist", "live")]
    args = ["chat.message", dumps(data), "unused", 100_000, int(time.time() * 1000)]
    _, offset = await client.eval(script, len(keys), *keys, *args)  # type: ignore[misc]
    return int(offset)


async def test_events_lost_on_pubsub_are_repaired(cluster: Cluster, viewers: Any) -> None:
    show = cluster.shows["repair"]
    staff = await viewers(cluster.a, show, cookie=cluster.staff_cookie)
    assert staff.of("snapshot")[0]["data"]["me"]["role"] != "guest"
    on_a = await viewers(cluster.a, show)
    on_b = await viewers(cluster.b, show)
    watchers = (on_a, on_b)
    starts = {id(v): v.position() for v in watchers}
    client: Redis = Redis.from_url(REDIS_URL, **REDIS_TIMEOUTS)
    try:
        await staff.chat("first")
        for v in watchers:
            await v.until(lambda v=v: "first" in v.texts(), "the first message")
        like = on_a.of("chat.message")[-1]["data"]

        # A lost event with nothing after it: the nodes' position checks find it.
        await _publish_unannounced(client, show, "lost alone", like)
        for v in watchers:
            await v.until(lambda v=v: "lost alone" in v.texts(), "the lone lost event")

        # A lost event followed by a delivered one: the gap is noticed and filled.
        await _publish_unannounced(client, show, "lost before", like)
        await staff.chat("delivered after")
        for v in watchers:
            await v.until(lambda v=v: "delivered after" in v.texts(), "the later event")

        # Real interruptions: both nodes' subscriptions are killed while a host
        # keeps chatting.
        sent = [f"storm {i}" for i in range(40)]
        for i, text in enumerate(sent):
            await staff.chat(text)
            if i % 10 == 3:
                await kill_pubsub_connections(client)
            await asyncio.sleep(0.02)
        for v in watchers:
            await v.until(lambda v=v: sent[-1] in v.texts(), "the end of the storm", within=60)
    finally:
        await client.aclose()

    expected = ["first", "lost alone", "lost before", "delivered after", *sent]
    for v in watchers:
        assert v.texts() == expected
        assert contiguous(v.numbered(), starts[id(v)]) == []
    assert on_a.numbered() == on_b.numbered()
    _alive(cluster)


async def test_redis_losing_its_data_resets_viewers(cluster: Cluster, viewers: Any) -> None:
    """After Redis loses everything (a restart without persistence) offsets start
    over in a new epoch: every node closes its sockets (4000), and a client that
    resumes gets ``reset`` and a fresh snapshot, never a silent gap."""
    show = cluster.shows["flush"]
    on_a = await viewers(cluster.a, show)
    on_b = await viewers(cluster.b, show)
    await on_a.chat("before the restart")
    for v in (on_a, on_b):
        await v.until(lambda v=v: "before the restart" in v.texts(), "the first message")
    old = on_b.position()

    client: Redis = Redis.from_url(REDIS_URL, **REDIS_TIMEOUTS)
    try:
        await client.flushdb()
    finally:
        await client.aclose()
    for v in (on_a, on_b):
        await v.until(lambda v=v: v.closed.is_set(), "the node to close the socket")
        assert v.ws.close_code == 4000

    for node in cluster.nodes():
        back = await viewers(node, show, since=f"{old[0]}:{old[1]}")
        await back.until(lambda back=back: back.of("snapshot"), "a snapshot after the reset")
        assert [e["type"] for e in back.events[:2]] == ["reset", "snapshot"]
        assert back.events[0]["data"]["reason"] == "epoch_changed"
        snapshot = back.events[1]
        assert snapshot["epoch"] != old[0]
        # The chat is in the database, not in Redis: the snapshot still has it.
        assert snapshot["data"]["chat"][0]["text"] == "before the restart"
        await back.chat(f"after the restart on {node.name}")
        await back.until(
            lambda back=back, node=node: f"after the restart on {node.name}" in back.texts(),
            "a message in the new epoch",
        )
        start = (snapshot["epoch"], snapshot["offset"])
        assert contiguous(back.numbered(), start) == []
    _alive(cluster)


# -- a node dies ------------------------------------------------------------------------


@pytest.fixture
def node_c(cluster: Cluster) -> Iterator[Node]:
    """A third node, to be killed by the test."""
    (node,) = start_nodes(cluster.env, ["c"], cluster.data_dir)
    try:
        yield node
    finally:
        node.kill()


async def test_a_killed_nodes_viewers_resume_elsewhere_missing_nothing(
    cluster: Cluster, node_c: Node, viewers: Any
) -> None:
    show = cluster.shows["kill"]
    victim = await viewers(node_c, show)
    bystanders = [await viewers(node_c, show) for _ in range(2)]
    watcher = await viewers(cluster.b, show)
    host = await viewers(cluster.b, show, cookie=cluster.staff_cookie)
    start = victim.position()
    # Three viewers on C, two on B: both nodes count five.
    for v in (victim, watcher, *bystanders):
        await v.until(lambda v=v: v.viewers() == 5, "viewers = 5 on both nodes")

    texts = [f"pesan {i}" for i in range(80)]
    for text in texts[:5]:
        await host.chat(text)
    await victim.until(lambda: len(victim.texts()) == 5, "the first messages on C")

    async def keep_sending() -> None:
        for text in texts[5:]:
            await host.chat(text)
            await asyncio.sleep(0.02)

    sender = asyncio.create_task(keep_sending())
    try:
        await victim.until(lambda: len(victim.texts()) >= 15, "more messages on C")
        node_c.kill()
        killed_at = time.monotonic()
        await victim.until(lambda: victim.closed.is_set(), "the dropped connection")
        epoch, offset = victim.position()
        assert len(victim.texts()) < len(texts), "the sender finished before the kill"

        resumed = await viewers(cluster.b, show, since=f"{epoch}:{offset}")
        await sender
    finally:
        if not sender.done():
            sender.cancel()
    await resumed.until(lambda: texts[-1] in resumed.texts(), "the last message after resuming")

    # The resumed connection continues the history exactly: no reset, no
    # snapshot, no gap and no repeat, and together the two connections saw
    # every message once, in order.
    assert [e["type"] for e in resumed.events if e["type"] in ("reset", "snapshot")] == []
    assert contiguous(resumed.numbered(), (epoch, offset)) == []
    assert contiguous(victim.numbered() + resumed.numbered(), start) == []
    assert victim.texts() + resumed.texts() == texts

    # C never said goodbye: its three viewers count until the presence TTL
    # passes. B now has the watcher, the host and the resumed viewer.
    await watcher.until(
        lambda: watcher.viewers() == 3, "C's viewers to expire", within=PRESENCE_TTL * 3
    )
    gone_after = time.monotonic() - killed_at
    print(f"\nkilled node's viewers left the count after {gone_after:.1f} s")
    _alive(cluster)
