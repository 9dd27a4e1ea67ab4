"""The broker interface: history with offsets, fan-out between nodes, presence.

Centrifugo's split, small: the *broker* numbers and keeps a show's events and
carries them to every node; the node-local *hub* (``hub.py``) fans them out to
sockets. One implementation per file: ``memory.py`` (embedded default) and
``redis.py`` (many nodes). Both build the same envelope bytes, so a node never
re-encodes an event it relays.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Position:
    """Where a client is in a show's history: ``<epoch>:<offset>``."""

    epoch: str
    offset: int

    def __str__(self) -> str:
        return f"{self.epoch}:{self.offset}"

    @classmethod
    def parse(cls, text: str) -> Position:
        epoch, sep, offset = text.partition(":")
        if not sep or not epoch or len(epoch) > 32 or not offset.isdigit() or len(offset) > 18:
            raise ValueError("since must look like <epoch>:<offset>")
        return cls(epoch, int(offset))


class HistoryGap(Exception):
    """The client's position cannot be served: it must reload state (``reset``)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Listener(Protocol):
    """The node's hub; brokers call it from the event loop."""

    def on_event(self, show_id: str, offset: int, envelope: bytes) -> None: ...

    def on_direct(self, show_id: str, target: str, envelope: bytes) -> None: ...


class Broker(Protocol):
    node_id: str

    async def start(self, listener: Listener) -> None: ...

    async def close(self) -> None: ...

    async def follow(self, show_id: str) -> None:
        """This node has viewers of ``show_id``: deliver its events here."""

    async def unfollow(self, show_id: str) -> None: ...

    async def publish(self, show_id: str, type_: str, data_json: str) -> Position:
        """Number the event, keep it in history and deliver it to every node."""

    async def publish_many(self, events: list[tuple[str, str, str]]) -> list[Position]:
        """``publish`` for each ``(show_id, type, data_json)``, in order, in one
        round trip to the broker."""

    async def publish_direct(self, show_id: str, target: str, envelope: bytes) -> None:
        """Deliver an un-numbered event to one shopper's connections on every node."""

    async def position(self, show_id: str) -> Position:
        """The epoch and the offset of the show's latest event (0 before any)."""

    async def history(self, show_id: str, since: Position) -> list[tuple[int, bytes]]:
        """Every event after ``since`` in order, or ``HistoryGap``."""

    async def trim(self, show_id: str) -> None:
        """Drop history beyond the retention (at least N events and T seconds)."""

    async def add_likes(self, show_id: str, n: int) -> int: ...

    async def likes(self, show_ids: list[str]) -> dict[str, int]: ...

    async def report_presence(self, counts: dict[str, int]) -> None:
        """This node's viewers per show (a heartbeat: nodes that stop reporting
        stop counting within the presence TTL)."""

    async def viewers(self, show_ids: list[str]) -> dict[str, int]:
        """Viewers on the *other* live nodes (the hub adds its own, always fresh)."""

    async def bump(self, key: str) -> None:
        """Something that nodes keep copies of under ``key`` changed: move its
        generation on, so every node's next ``generations`` sees it."""

    async def generations(self, keys: list[str]) -> dict[str, int]:
        """The current generation of each key (0 for one never bumped)."""


def new_epoch() -> str:
    return secrets.token_hex(4)


def envelope(
    type_: str, data_json: str, epoch: str | None = None, offset: int | None = None
) -> bytes:
    """The wire form of one event. ``type_`` is a known event name (no escaping needed)."""
    if offset is None:
        return f'{{"type":"{type_}","data":{data_json}}}'.encode()
    return f'{{"type":"{type_}","epoch":"{epoch}","offset":{offset},"data":{data_json}}}'.encode()


def dumps(data: object) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False, default=str)
