"""``Realtime``: the one object other domains use to reach viewers.

``publish(show_id, type, data)`` is the only way a live event leaves a domain;
call it after the database transaction commits. It validates ``data`` against
the event's schema (``events.py``), so nothing unschema'd reaches a browser.
"""

from __future__ import annotations

from typing import Any

import structlog

from pasar.loops import Loops
from pasar.realtime.broker import Broker, Position, dumps, envelope
from pasar.realtime.events import SERVER_EVENTS
from pasar.realtime.hub import Hub
from pasar.realtime.limits import IpLimits, IpSockets, SlowMode
from pasar.realtime.memory import MemoryBroker
from pasar.settings import Settings

log = structlog.get_logger()

TRIM_EVERY_SECONDS = 30.0


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
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.broker = make_broker(settings)
        self.hub = Hub(
            self.broker,
            tick_seconds=settings.ws_tick_ms / 1000,
            max_buffer_bytes=settings.ws_max_buffer_bytes,
            max_connections=settings.ws_max_connections,
            recent_events=settings.ws_history_events,
        )
        self.ip_limits = IpLimits()
        self.ip_sockets = IpSockets(settings.ws_max_connections_per_ip)
        self.slow_mode = SlowMode()
        self._loops = Loops()

    async def start(self) -> None:
        await self.hub.start()
        self._loops.every(TRIM_EVERY_SECONDS, self._trim, name="pasar-trim")

    async def close(self) -> None:
        await self._loops.stop()
        await self.hub.close()

    async def publish(self, show_id: str, type_: str, data: dict[str, Any]) -> Position:
        """Number, keep and deliver a history event to every viewer of the show."""
        return await self.broker.publish(show_id, type_, _validated(type_, data, ("history",)))

    async def publish_many(self, events: list[tuple[str, str, dict[str, Any]]]) -> list[Position]:
        """``publish`` for each ``(show_id, type, data)``, in order, in one broker
        round trip (a chat batch's messages)."""
        return await self.broker.publish_many(
            [(show, type_, _validated(type_, data, ("history",))) for show, type_, data in events]
        )

    async def send_to(self, show_id: str, target: str, type_: str, data: dict[str, Any]) -> None:
        """Deliver a direct event to one shopper's connections on every node."""
        body = _validated(type_, data, ("direct",))
        await self.broker.publish_direct(show_id, target, envelope(type_, body))

    async def _trim(self) -> None:
        """Drop history past retention for the shows this node serves."""
        for show_id in list(self.hub.channels):
            await self.broker.trim(show_id)
