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
does. The show's state is read with the shared part, after its position, so
an ended show's ``show.state`` event is in the joiner's history if the state
read missed it. The rest (who you are, viewers and likes, slow mode) is per
joiner. The vendor's origins and shopper secret, which every join checks, are
shared for as long.

What is not in the history is at most that old: the poll's
counts (the next ``poll.results`` brings them) and the deals' remaining stock
(the next ``deal.updated``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from pasar.engagement import chat, polls
from pasar.realtime.broker import HistoryGap, Position
from pasar.services import Services
from pasar.shared_reads import SharedReads
from pasar.shows.models import Show
from pasar.vendors.models import Vendor


@dataclass(frozen=True, slots=True)
class Shared:
    position: Position
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ShowFacts:
    """What the socket needs of a show's vendor: origins and credentials."""

    vendor_id: str
    allowed_origins: list[str]
    shopper_secret_encrypted: str


class Snapshots:
    """This node's shared snapshot parts, and the shows' facts a join needs, per show."""

    def __init__(self, services: Services) -> None:
        self.services = services
        shared_for = services.settings.ws_snapshot_shared_ms / 1000
        self._shared: SharedReads[str, Shared] = SharedReads(shared_for, limit=1000)
        self._shows: SharedReads[str, ShowFacts | None] = SharedReads(shared_for)

    @property
    def shared_for(self) -> float:
        return self._shared.ttl

    @shared_for.setter
    def shared_for(self, seconds: float) -> None:  # tests change it
        self._shared.ttl = self._shows.ttl = seconds

    @property
    def builds(self) -> int:
        """How many times the shared part was read from the database (tests read it)."""
        return self._shared.reads

    @property
    def show_reads(self) -> int:
        """How many times a show's vendor facts were read (tests read it)."""
        return self._shows.reads

    async def show(self, show_id: str) -> ShowFacts | None:
        """What a join needs of the show's vendor; None for no such show. At
        most ``shared_for`` old: an origin added to the vendor's list admits
        that page's viewers a second later at most."""
        if not 1 <= len(show_id) <= 40:
            return None
        return await self._shows.get(show_id, lambda: self._read_show(show_id))

    async def _read_show(self, show_id: str) -> ShowFacts | None:
        query = (
            select(Vendor.id, Vendor.allowed_origins, Vendor.shopper_secret_encrypted)
            .join(Show, Show.vendor_id == Vendor.id)
            .where(Show.id == show_id)
        )
        async with self.services.db.read() as db:
            row = (await db.execute(query)).one_or_none()
        return None if row is None else ShowFacts(*row)

    async def as_of(self, vendor_id: str, show_id: str) -> tuple[Shared, list[tuple[int, bytes]]]:
        """The shared part and the history events after its position."""
        shared = await self._current(vendor_id, show_id)
        try:
            return shared, await self.history(show_id, shared.position)
        except HistoryGap:  # the broker's history started over (a Redis restart)
            self._shared.forget(show_id)
            shared = await self._current(vendor_id, show_id)
            return shared, await self.history(show_id, shared.position)

    async def history(self, show_id: str, since: Position) -> list[tuple[int, bytes]]:
        """The show's events after ``since``: from the events this node's hub
        took (a crowd of joiners, one broker read fewer each), else the broker's
        history (which raises HistoryGap when it cannot serve ``since``)."""
        realtime = self.services.realtime
        recent = realtime.hub.recent_since(show_id, since)
        if recent is not None:
            return recent
        return await realtime.broker.history(show_id, since)

    async def _current(self, vendor_id: str, show_id: str) -> Shared:
        return await self._shared.get(show_id, lambda: self._build(vendor_id, show_id))

    async def _build(self, vendor_id: str, show_id: str) -> Shared:
        services = self.services
        # The position first: the database then holds at least everything up to it.
        position = await services.realtime.broker.position(show_id)
        async with services.db.read() as db:
            state = await db.scalar(select(Show.state).where(Show.id == show_id))
            messages = await chat.recent_messages(db, vendor_id, show_id)
            pinned = await chat.pinned_message(db, vendor_id, show_id)
            poll = await polls.open_poll(db, vendor_id, show_id)
            poll_counts = await polls.poll_counts(db, poll) if poll else []
            shop = await services.commerce.on_screen(db, show_id, services.storage)
        data = {
            "state": state,
            "chat": [chat.message_data(m) for m in messages],
            "pinned_message": chat.message_data(pinned) if pinned else None,
            "pinned_products": shop.pinned_products,
            "deals": shop.deals,
            "poll": polls.poll_data(poll, poll_counts) if poll else None,
        }
        return Shared(position, data)
