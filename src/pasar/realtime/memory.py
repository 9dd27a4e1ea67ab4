"""The in-process broker: the embedded default for one node."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

from pasar.realtime.broker import HistoryGap, Listener, Position, envelope, new_epoch


@dataclass
class _Show:
    epoch: str
    offset: int = 0
    # (offset, monotonic time, envelope)
    history: deque[tuple[int, float, bytes]] = field(default_factory=deque)
    likes: int = 0


class MemoryBroker:
    def __init__(self, *, min_events: int, min_seconds: float, max_events: int) -> None:
        self.node_id = "local"
        self.min_events = min_events
        self.min_seconds = min_seconds
        self.max_events = max_events
        self._shows: dict[str, _Show] = {}
        self._listener: Listener | None = None
        self._generations: dict[str, int] = {}

    async def start(self, listener: Listener) -> None:
        self._listener = listener

    async def close(self) -> None:
        self._listener = None

    async def follow(self, show_id: str) -> None:
        return None

    async def unfollow(self, show_id: str) -> None:
        return None

    def _show(self, show_id: str) -> _Show:
        show = self._shows.get(show_id)
        if show is None:
            show = self._shows[show_id] = _Show(epoch=new_epoch())
        return show

    def _trim(self, show: _Show) -> None:
        """Keep at least ``min_events`` and everything younger than ``min_seconds``,
        never more than ``max_events``."""
        h = show.history
        horizon = time.monotonic() - self.min_seconds
        while len(h) > self.max_events or (len(h) > self.min_events and h[0][1] < horizon):
            h.popleft()

    async def publish(self, show_id: str, type_: str, data_json: str) -> Position:
        show = self._show(show_id)
        show.offset += 1
        env = envelope(type_, data_json, show.epoch, show.offset)
        show.history.append((show.offset, time.monotonic(), env))
        self._trim(show)
        if self._listener is not None:
            self._listener.on_event(show_id, show.offset, env)
        return Position(show.epoch, show.offset)

    async def publish_many(self, events: list[tuple[str, str, str]]) -> list[Position]:
        return [await self.publish(show_id, type_, data) for show_id, type_, data in events]

    async def publish_direct(self, show_id: str, target: str, envelope: bytes) -> None:
        if self._listener is not None:
            self._listener.on_direct(show_id, target, envelope)

    async def position(self, show_id: str) -> Position:
        show = self._show(show_id)
        return Position(show.epoch, show.offset)

    async def history(self, show_id: str, since: Position) -> list[tuple[int, bytes]]:
        show = self._show(show_id)
        return _history_after(show.epoch, show.offset, show.history, since)

    async def trim(self, show_id: str) -> None:
        return None  # trimmed on every publish

    async def add_likes(self, show_id: str, n: int) -> int:
        show = self._show(show_id)
        show.likes += n
        return show.likes

    async def likes(self, show_ids: list[str]) -> dict[str, int]:
        return {s: self._show(s).likes for s in show_ids}

    async def report_presence(self, counts: dict[str, int]) -> None:
        return None  # one node: the hub knows every viewer

    async def viewers(self, show_ids: list[str]) -> dict[str, int]:
        return dict.fromkeys(show_ids, 0)

    async def bump(self, key: str) -> None:
        self._generations[key] = self._generations.get(key, 0) + 1

    async def generations(self, keys: list[str]) -> dict[str, int]:
        return {k: self._generations.get(k, 0) for k in keys}


def _history_after(
    epoch: str, latest: int, history: deque[tuple[int, float, bytes]], since: Position
) -> list[tuple[int, bytes]]:
    if since.epoch != epoch:
        raise HistoryGap("epoch_changed")
    if since.offset > latest:
        raise HistoryGap("bad_position")
    if since.offset == latest:
        return []
    oldest = history[0][0] if history else latest + 1
    if since.offset + 1 < oldest:
        raise HistoryGap("too_old")
    return [(off, env) for off, _, env in history if off > since.offset]


__all__ = ["MemoryBroker"]
