"""A show's moderation standing, kept in memory for the chat path.

Every chat message needs the show's chat settings, its blocked terms and the
sanctions in force. Reading them from the database per message made chat
ingest queue behind the fan-out on the same loop; they change only when a
moderator acts. So each node keeps them per show and reloads a show's standing
when its vendor's *generation* moved on: ``changed(vendor_id)`` (called after a
moderation change commits) drops this node's copies and bumps the generation in
the broker, which every node compares, once per chat batch, before deciding on
messages. A copy is also never older than ``max_age`` seconds, which bounds the
damage if the bump itself failed (the broker was down at that moment).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import structlog
from sqlalchemy import and_, or_, select

from pasar.clock import utcnow
from pasar.db.engine import Database
from pasar.engagement.models import BlockedTerm, ChatSettings, Sanction
from pasar.engagement.rules import Rules
from pasar.realtime.broker import Broker
from pasar.shared_reads import SharedReads

log = structlog.get_logger()

MAX_AGE_SECONDS = 30.0


def generation_key(vendor_id: str) -> str:
    return f"moderation:{vendor_id}"


@dataclass(frozen=True)
class ShowStanding:
    slow_mode_seconds: int
    hold_for_approval: bool
    rules: Rules
    # Sanctions in force when loaded (lifted ones left out); expiry is checked at use.
    sanctions: tuple[Sanction, ...]
    generation: int
    loaded_at: float

    def sanction_for(
        self, subject: str, ip: str | None, *, bans_only: bool = False
    ) -> Sanction | None:
        """The sanction that applies to this shopper, a ban before a mute. A
        sanction by IP applies to guests only: an account's follow the account."""
        now = utcnow()
        by_ip = bool(ip) and subject.startswith("guest:")
        found: Sanction | None = None
        for s in self.sanctions:
            if s.until is not None and s.until <= now:
                continue
            if bans_only and not s.banned:
                continue
            if s.subject == subject or (by_ip and s.ip == ip):
                if s.banned:
                    return s
                found = found or s
        return found


async def load(db: Database, vendor_id: str, show_id: str, generation: int) -> ShowStanding:
    now = utcnow()
    async with db.read() as session:
        settings = await session.get(ChatSettings, show_id)
        terms = await session.execute(
            select(BlockedTerm.kind, BlockedTerm.term).where(
                BlockedTerm.vendor_id == vendor_id,
                or_(BlockedTerm.show_id.is_(None), BlockedTerm.show_id == show_id),
            )
        )
        sanctions = await session.execute(
            select(Sanction).where(
                Sanction.vendor_id == vendor_id,
                or_(Sanction.show_id.is_(None), Sanction.show_id == show_id),
                and_(
                    Sanction.lifted_at.is_(None),
                    or_(Sanction.until.is_(None), Sanction.until > now),
                ),
            )
        )
        words: list[str] = []
        patterns: list[str] = []
        for kind, term in terms:
            (patterns if kind == "pattern" else words).append(term)
        mine = settings is not None and settings.vendor_id == vendor_id
        return ShowStanding(
            slow_mode_seconds=settings.slow_mode_seconds if mine and settings else 0,
            hold_for_approval=bool(settings.hold_for_approval) if mine and settings else False,
            rules=Rules(tuple(words), tuple(patterns)),
            sanctions=tuple(sanctions.scalars()),
            generation=generation,
            loaded_at=time.monotonic(),
        )


class Standings:
    """This node's copies, per show."""

    def __init__(self, db: Database, broker: Broker, max_age: float = MAX_AGE_SECONDS) -> None:
        self.db = db
        self.broker = broker
        self.max_age = max_age
        self._shows: dict[str, tuple[str, ShowStanding]] = {}
        # Concurrent callers share a read in flight (nothing is kept after it).
        self._generations: SharedReads[tuple[str, ...], dict[str, int]] = SharedReads(0)
        self._loads: SharedReads[tuple[str, str, int], ShowStanding] = SharedReads(0)
        # Called with the vendor's id after each of its moderation changes made here.
        self.listeners: list[Callable[[str], None]] = []

    async def of(
        self, shows: dict[str, str], *, share_read: bool = False
    ) -> dict[str, ShowStanding]:
        """The standing of each show (``{show_id: vendor_id}``), current as of
        the broker's generations: one broker round trip, and a database read
        only for shows whose vendor changed something.

        ``share_read``: join a generations read already in flight rather than
        make another (a crowd of joiners checking bans), which may miss a bump
        made during that one round trip. Chat batches read their own."""
        keys = tuple(generation_key(v) for v in sorted(set(shows.values())))
        if share_read:
            generations = await self._generations.get(
                keys, lambda: self.broker.generations(list(keys))
            )
        else:
            generations = await self.broker.generations(list(keys))
        out: dict[str, ShowStanding] = {}
        horizon = time.monotonic() - self.max_age
        for show_id, vendor_id in shows.items():
            generation = generations.get(generation_key(vendor_id), 0)
            held = self._shows.get(show_id)
            if (
                held is None
                or held[0] != vendor_id
                or held[1].generation != generation
                or held[1].loaded_at < horizon
            ):
                standing = await self._loads.get(
                    (vendor_id, show_id, generation),
                    partial(load, self.db, vendor_id, show_id, generation),
                )
                self._shows[show_id] = (vendor_id, standing)
                held = (vendor_id, standing)
            out[show_id] = held[1]
        if len(self._shows) > 10_000:  # shows long over: start afresh
            self._shows = {s: self._shows[s] for s in shows if s in self._shows}
        return out

    async def one(self, vendor_id: str, show_id: str, *, share_read: bool = False) -> ShowStanding:
        return (await self.of({show_id: vendor_id}, share_read=share_read))[show_id]

    async def changed(self, vendor_id: str) -> None:
        """A moderation change for ``vendor_id`` committed: every node reloads,
        and this node's listeners hear of it at once (commerce: bans refuse claims)."""
        self._shows = {s: h for s, h in self._shows.items() if h[0] != vendor_id}
        for listener in self.listeners:
            listener(vendor_id)
        try:
            await self.broker.bump(generation_key(vendor_id))
        except Exception as exc:  # the other nodes catch up within max_age
            log.warning("moderation change not broadcast", vendor_id=vendor_id, error=str(exc))
