"""``Realtime``: the one object other domains use to reach viewers.

``publish(show_id, type, data)`` is the only way a live event leaves a domain;
call it after the database transaction commits. It validates ``data`` against
the event's schema (``events.py``), so nothing unschema'd reaches a browser.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import structlog

from pasar.db.engine import Database
from pasar.engagement import polls
from pasar.realtime.broker import Broker, Position, dumps, envelope
from pasar.realtime.events import SERVER_EVENTS
from pasar.realtime.hub import Hub
from pasar.realtime.limits import IpLimits, IpSockets, SlowMode
from pasar.realtime.memory import MemoryBroker
from pasar.settings import Settings

log = structlog.get_logger()


def _validated(type_: str, data: dict[str, Any], kinds: tuple[str, ...]) -> str:
    schema, kind = SERVER_EVENTS[type_]
    if kind not in kinds:
        raise ValueError(f"{type_} is a {kind} event")
    return dumps(schema.model_validate(data).model_dump(mode="json"))


def make_broker(settings: Settings) -> Broker:
    retention = {
        "min_events": settings.ws_history_events,
        "min_seconds": settings.ws_history_seconds,
        "max_events": settings.ws_history_events * 5,
    }
    if settings.redis_url:
        from pasar.realtime.redis import RedisBroker

        return RedisBroker(
            settings.redis_url, presence_ttl=settings.ws_presence_ttl_seconds, **retention
        )
    return MemoryBroker(**retention)


class Realtime:
    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self.broker = make_broker(settings)
        self.hub = Hub(
            self.broker,
            tick_seconds=settings.ws_tick_ms / 1000,
            max_buffer_bytes=settings.ws_max_buffer_bytes,
            max_connections=settings.ws_max_connections,
        )
        self.ip_limits = IpLimits()
        self.ip_sockets = IpSockets(settings.ws_max_connections_per_ip)
        self.slow_mode = SlowMode()
        self._loop_task: asyncio.Task[None] | None = None
        self._poll_results: dict[str, list[int]] = {}

    async def start(self) -> None:
        await self.hub.start()
        self._loop_task = asyncio.create_task(self._polls_loop(), name="pasar-polls")

    async def close(self) -> None:
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        await self.hub.close()

    async def publish(self, show_id: str, type_: str, data: dict[str, Any]) -> Position:
        """Number, keep and deliver a history event to every viewer of the show."""
        return await self.broker.publish(show_id, type_, _validated(type_, data, ("history",)))

    async def send_to(self, show_id: str, target: str, type_: str, data: dict[str, Any]) -> None:
        """Deliver a direct event to one shopper's connections on every node."""
        body = _validated(type_, data, ("direct",))
        await self.broker.publish_direct(show_id, target, envelope(type_, body))

    # -- polls: close on time, refresh live results -------------------------

    async def _polls_loop(self) -> None:
        ticks = 0
        while True:
            await asyncio.sleep(1.0)
            ticks += 1
            try:
                await self.tend_polls()
                if ticks % 30 == 0:
                    for show_id in list(self.hub.channels):
                        await self.broker.trim(show_id)
            except Exception:
                log.exception("tending polls failed")

    async def tend_polls(self) -> None:
        shows = list(self.hub.channels)
        if not shows:
            return
        async with self.db.session() as db:
            expired = await polls.expired_polls(db, shows)
            closed = []
            for poll in expired:
                if await polls.close_poll(db, poll, "system"):
                    closed.append((poll, await polls.poll_counts(db, poll)))
            await db.commit()
            for poll, counts in closed:
                await self.publish(poll.show_id, "poll.closed", polls.poll_data(poll, counts))
            for poll in await polls.open_polls(db, shows):
                counts = await polls.poll_counts(db, poll)
                if self._poll_results.get(poll.id) != counts:
                    self._poll_results[poll.id] = counts
                    self.hub.state_event(
                        poll.show_id, "poll.results", polls.poll_data(poll, counts)
                    )
