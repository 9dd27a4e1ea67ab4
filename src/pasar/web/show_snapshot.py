"""What a joining viewer is sent first: the show as of a position in its history.

Most of a snapshot is the same for every viewer: the recent chat, the pinned
message and products, the running deals and the open poll. Built per join it
was seven queries and fifty chat rows each, so a crowd arriving at the start of
a show (10,000 in a minute) queued on the database. Here that shared part is
built at most once per ``PASAR_WS_SNAPSHOT_SHARED_MS`` (a second) per show, stamped with the
history position it was read at (read *before* the database, so it holds at
least everything up to that position), and every joiner of that second gets it
plus the history events after that position. Nothing is missed or repeated:
the joiner's position moves on past the events it was sent, exactly as a resume
does. The rest (who you are, viewers and likes, slow mode, the show's state)
is per joiner.

What is not in the history is at most that old: the poll's
counts (the next ``poll.results`` brings them) and the deals' remaining stock
(the next ``deal.updated``).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from pasar.engagement import chat, polls
from pasar.realtime.broker import HistoryGap, Position
from pasar.services import Services


@dataclass(frozen=True, slots=True)
class Shared:
    position: Position
    made: float
    data: dict[str, Any]


class Snapshots:
    """This node's shared snapshot parts, per show."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.shared_for = services.settings.ws_snapshot_shared_ms / 1000
        self._shared: dict[str, Shared] = {}
        self._building: dict[str, asyncio.Future[Shared]] = {}
        self.builds = 0  # how many times the database was read (tests read it)

    async def as_of(self, vendor_id: str, show_id: str) -> tuple[Shared, list[tuple[int, bytes]]]:
        """The shared part and the history events after its position."""
        broker = self.services.realtime.broker
        shared = await self._current(vendor_id, show_id)
        try:
            return shared, await broker.history(show_id, shared.position)
        except HistoryGap:  # the broker's history started over (a Redis restart)
            self._shared.pop(show_id, None)
            shared = await self._current(vendor_id, show_id)
            return shared, await broker.history(show_id, shared.position)

    async def _current(self, vendor_id: str, show_id: str) -> Shared:
        held = self._shared.get(show_id)
        if held is not None and time.monotonic() - held.made < self.shared_for:
            return held
        building = self._building.get(show_id)
        if building is not None:  # another joiner is reading it: wait for theirs
            return await asyncio.shield(building)
        future: asyncio.Future[Shared] = asyncio.get_running_loop().create_future()
        self._building[show_id] = future
        try:
            shared = await self._build(vendor_id, show_id)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters (if any) get it raised
            raise
        finally:
            del self._building[show_id]
        future.set_result(shared)
        if len(self._shared) > 1000:  # shows long over: start afresh
            self._shared.clear()
        self._shared[show_id] = shared
        return shared

    async def _build(self, vendor_id: str, show_id: str) -> Shared:
        services = self.services
        # The position first: the database then holds at least everything up to it.
        position = await services.realtime.broker.position(show_id)
        async with services.db.read() as db:
            messages = await chat.recent_messages(db, vendor_id, show_id)
            pinned = await chat.pinned_message(db, vendor_id, show_id)
            poll = await polls.open_poll(db, vendor_id, show_id)
            poll_counts = await polls.poll_counts(db, poll) if poll else []
            shop = await services.commerce.on_screen(db, show_id, services.storage)
        self.builds += 1
        data = {
            "chat": [chat.message_data(m) for m in messages],
            "pinned_message": chat.message_data(pinned) if pinned else None,
            "pinned_products": shop.pinned_products,
            "deals": shop.deals,
            "poll": polls.poll_data(poll, poll_counts) if poll else None,
        }
        return Shared(position, time.monotonic(), data)
