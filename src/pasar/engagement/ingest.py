"""Chat ingest: the messages that arrive together are stored together.

One transaction per message made a busy show's chat wait on the database at the
pace of its commits, on the loop that also fans events out. Here a sender's
message joins a queue; one writer task takes everything queued, decides each
message against the show's standing in memory (``standing.py``: slow mode,
mutes, blocked terms, hold for approval), stores the batch in one transaction,
and only after it committed publishes the visible messages, in arrival order,
and answers each sender. While one batch is written the next one gathers, so the
batch grows with the load and a quiet chat still commits each message at once
(group commit).

Nothing is answered before it is stored: a batch that fails is retried message
by message, so one bad row cannot take the others down, and a message that
still fails answers its sender with the error.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, cast

import structlog
from sqlalchemy import Table, insert

from pasar.db.engine import Database
from pasar.engagement import chat, moderation
from pasar.engagement.chat import Posted
from pasar.engagement.errors import SlowModeWait
from pasar.engagement.identity import Identity
from pasar.engagement.models import ChatMessageRow
from pasar.engagement.standing import ShowStanding, Standings
from pasar.loops import Loops
from pasar.realtime.engine import Realtime
from pasar.realtime.limits import SlowMode

log = structlog.get_logger()

# Enough for a festival show's tick many times over; bounds one transaction.
MAX_BATCH = 500
# The writer also wakes this often with nothing queued (a no-op): the wake event
# is what drives it.
IDLE_SECONDS = 60.0


@dataclass(slots=True)
class _Waiting:
    vendor_id: str
    show_id: str
    who: Identity
    ip: str | None
    text: str
    answer: asyncio.Future[Posted]


def _fail(w: _Waiting, exc: BaseException) -> None:
    if not w.answer.done():  # the sender may have gone (its socket closed)
        w.answer.set_exception(exc)


def decide(
    standing: ShowStanding | None, slow_mode: SlowMode, w: _Waiting
) -> tuple[str, str | None]:
    """(status, the blocked term's rule) for one message, or the refusal raised."""
    if w.who.is_staff or standing is None:
        return "visible", None
    interval = standing.slow_mode_seconds
    wait = slow_mode.wait(w.show_id, w.who.id, interval)
    if wait:
        raise SlowModeWait(interval, wait)
    muted = standing.sanction_for(w.who.id, w.ip)
    if muted is not None:
        raise chat.muted_error(muted)
    rule = standing.rules.blocked(w.text)
    if rule is not None:
        return "rejected", rule
    return ("held" if standing.hold_for_approval else "visible"), None


class ChatIngest:
    def __init__(self, db: Database, realtime: Realtime, standings: Standings) -> None:
        self.db = db
        self.realtime = realtime
        self.standings = standings
        self._queue: list[_Waiting] = []
        self._wake = asyncio.Event()
        self._loops = Loops()
        self.batches = 0  # transactions written (tests and metrics read it)

    async def start(self) -> None:
        self._loops.every(IDLE_SECONDS, self.drain, name="pasar-chat-ingest", wake=self._wake)

    async def close(self) -> None:
        await self.drain()
        await self._loops.stop()

    async def send(
        self, vendor_id: str, show_id: str, who: Identity, ip: str | None, text: str
    ) -> Posted:
        """Store the message and, when visible, publish it; returns once both
        happened. Raises ``EngagementError`` (``SlowModeWait`` among them)."""
        text = chat.checked_text(text)
        answer: asyncio.Future[Posted] = asyncio.get_running_loop().create_future()
        self._queue.append(_Waiting(vendor_id, show_id, who, ip, text, answer))
        if self._loops.running:
            self._wake.set()
        else:  # not started (a script, a test's bare Services): write it now
            await self.drain()
        return await answer

    async def drain(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
            try:
                await self._write(batch)
            except BaseException as exc:
                for w in batch:
                    _fail(w, exc)
                if not isinstance(exc, Exception):
                    raise
                log.exception("chat batch failed")

    async def _write(self, batch: list[_Waiting]) -> None:
        waiting = [w for w in batch if not w.answer.done()]  # senders still there
        shoppers = {w.show_id: w.vendor_id for w in waiting if not w.who.is_staff}
        standings = await self.standings.of(shoppers) if shoppers else {}
        decided: list[tuple[_Waiting, Posted]] = []
        for w in waiting:
            try:
                status, rule = decide(standings.get(w.show_id), self.realtime.slow_mode, w)
            except Exception as exc:
                _fail(w, exc)
                continue
            row = chat.new_message(w.vendor_id, w.show_id, w.who, w.ip, w.text, status)
            decided.append((w, Posted(row, status, rule)))
        if not decided:
            return
        try:
            await self._store(decided)
        except Exception:
            log.warning("chat batch not stored; storing one by one", size=len(decided))
            stored = []
            for item in decided:
                try:
                    await self._store([item])
                except Exception as exc:
                    _fail(item[0], exc)
                else:
                    stored.append(item)
            decided = stored
        visible = [(w, p) for w, p in decided if p.status == "visible"]
        try:
            if visible:
                await self.realtime.publish_many(
                    [(w.show_id, "chat.message", chat.message_data(p.row)) for w, p in visible]
                )
        except Exception as exc:  # stored, not published: their senders hear of it
            for w, _ in visible:
                _fail(w, exc)
        for w, posted in decided:
            if not w.answer.done():
                w.answer.set_result(posted)

    async def _store(self, decided: list[tuple[_Waiting, Posted]]) -> None:
        async with self.db.session() as session:
            # One multi-row INSERT through Core: the ORM's unit of work cost the
            # loop (which also fans out) about as much as the database did.
            await session.execute(
                insert(_MESSAGES), [_row_values(posted.row) for _, posted in decided]
            )
            for w, posted in decided:
                if posted.status == "rejected":
                    await moderation.log(
                        session,
                        w.vendor_id,
                        w.show_id,
                        "system",
                        "chat.reject",
                        w.who.id,
                        {"rule": posted.rule},
                    )
            await session.commit()
        self.batches += 1


_MESSAGES = cast(Table, ChatMessageRow.__table__)
_COLUMNS = tuple(c.key for c in _MESSAGES.columns)


def _row_values(row: ChatMessageRow) -> dict[str, Any]:
    """A new message's columns (``chat.new_message`` sets every one)."""
    return {key: getattr(row, key) for key in _COLUMNS}
