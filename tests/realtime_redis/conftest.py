"""Fixtures for the broker contract tests and the two-process Redis tests.

Redis comes from ``PASAR_TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379/15``,
one database per xdist worker: ``tests/conftest.py``); the tests FLUSHDB that
database, so point it at one nothing else uses. Pub/Sub channels are not per
database, though: show ids made up here go through ``sid`` so that no other test
process on the same server publishes to them. When Redis is down the Redis half
skips (or fails when ``PASAR_TEST_REQUIRE_SERVICES=1``).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from redis.asyncio import Redis

from pasar.realtime.memory import MemoryBroker
from pasar.realtime.redis import RedisBroker
from tests.conftest import REDIS_TIMEOUTS, REDIS_URL, service_missing

Broker = MemoryBroker | RedisBroker

_PROCESS = secrets.token_hex(4)


def sid(name: str) -> str:
    """A show id of this test process's own: ``name`` plus a random suffix."""
    return f"{name}-{_PROCESS}"


async def eventually(
    check: Callable[[], Any], within: float = 10.0, what: str = "condition"
) -> Any:
    """Poll ``check`` (sync or async) until it returns something truthy."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:.0f} s waiting for {what}")
        await asyncio.sleep(0.02)


async def redis_or_skip(url: str = REDIS_URL) -> Redis:
    """A client for the test database, flushed; skip (or fail in CI) without Redis."""
    client: Redis = Redis.from_url(url, **REDIS_TIMEOUTS)
    try:
        await client.ping()
    except Exception as exc:
        await client.aclose()
        service_missing("Redis", f"{url}: {type(exc).__name__}: {exc}")
        raise AssertionError("unreachable") from exc
    await client.flushdb()
    return client


async def kill_pubsub_connections(redis: Redis) -> int:
    """Drop the Pub/Sub connections into the test database (no one else's)."""
    db = redis.connection_pool.connection_kwargs.get("db", 0)
    killed = 0
    for client in await redis.client_list():
        if int(client["db"]) == db and (int(client["sub"]) or int(client["psub"])):
            killed += int(await redis.client_kill_filter(_id=client["id"]))
    assert killed, "no Pub/Sub connection to kill"
    return killed


class Recorder:
    """A ``Listener`` that remembers everything the broker delivers."""

    def __init__(self) -> None:
        self.events: list[tuple[str, int, bytes]] = []
        self.direct: list[tuple[str, str, bytes]] = []

    def on_event(self, show_id: str, offset: int, envelope: bytes) -> None:
        self.events.append((show_id, offset, envelope))

    def on_direct(self, show_id: str, target: str, envelope: bytes) -> None:
        self.direct.append((show_id, target, envelope))

    def offsets(self, show_id: str) -> list[int]:
        return [off for s, off, _ in self.events if s == show_id]


@dataclass
class Brokers:
    """Starts brokers of one kind; several Redis brokers are several nodes sharing
    one Redis. ``redis`` is a client for the (flushed) test database."""

    kind: str
    redis: Redis | None
    started: list[Broker] = field(default_factory=list)

    async def make(
        self,
        *,
        min_events: int = 1000,
        min_seconds: float = 600,
        max_events: int = 5000,
        presence_ttl: float = 30.0,
    ) -> tuple[Broker, Recorder]:
        broker: Broker
        if self.kind == "memory":
            broker = MemoryBroker(
                min_events=min_events, min_seconds=min_seconds, max_events=max_events
            )
        else:
            broker = RedisBroker(
                REDIS_URL,
                min_events=min_events,
                min_seconds=min_seconds,
                max_events=max_events,
                presence_ttl=presence_ttl,
                connect_timeout=REDIS_TIMEOUTS["socket_connect_timeout"],
            )
        recorder = Recorder()
        await broker.start(recorder)
        self.started.append(broker)
        return broker, recorder


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def brokers(request: pytest.FixtureRequest) -> AsyncIterator[Brokers]:
    kind: str = request.param
    made = Brokers(kind, await redis_or_skip() if kind == "redis" else None)
    yield made
    for broker in made.started:
        await broker.close()
    if made.redis is not None:
        await made.redis.flushdb()
        await made.redis.aclose()
