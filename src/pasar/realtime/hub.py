"""The node-local hub: which sockets watch which show, and the per-tick fan-out.

Events from the broker collect per show; every tick (``PASAR_WS_TICK_MS``) the
hub joins a show's new events into one JSON array, encodes one WebSocket frame
and writes those same bytes to every caught-up socket of the show. A socket
that is still joining (sending its snapshot or history) keeps the events in its
own backlog instead, so it never misses or repeats an offset.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import structlog

from pasar.heap import HeapSteward
from pasar.loops import Loops
from pasar.realtime.broker import Broker, HistoryGap, Position, dumps, envelope
from pasar.realtime.join_gate import JoinGate
from pasar.realtime.wire import RawWriter, text_frame

log = structlog.get_logger()


class Conn:
    """One viewer socket. ``send`` is the slow, per-connection path (snapshots,
    direct events); ``writer`` is the shared-frame fast path when the server has it."""

    __slots__ = (
        "backlog",
        "close",
        "closed",
        "ip",
        "last_offset",
        "ready",
        "send",
        "show_id",
        "subject",
        "writer",
    )

    def __init__(
        self,
        show_id: str,
        subject: str,
        ip: str,
        send: Callable[[bytes], Awaitable[None]],
        close: Callable[[int, str], Awaitable[None]],
        writer: RawWriter | None,
    ) -> None:
        self.show_id = show_id
        # The viewer's id ("guest:…", "shopper:…", "staff:…"): what send_to targets.
        self.subject = subject
        self.ip = ip
        self.send = send
        self.close = close
        self.writer = writer
        self.last_offset = 0
        self.ready = False
        self.closed = False
        self.backlog: list[tuple[int | None, bytes]] = []


# Events kept per show for joiners' history: tens of seconds of a busy show's.
RECENT_EVENTS = 4096


@dataclass
class Channel:
    conns: set[Conn] = field(default_factory=set)
    pending: list[tuple[int | None, bytes]] = field(default_factory=list)
    last_seen: int = 0
    epoch: str = ""
    likes_batch: int = 0
    likes_sent: int = -1
    viewers_sent: int = -1
    # As of the last count refresh: the broker's like total, viewers on other nodes.
    likes_total: int = -1
    elsewhere: int = -1
    repairing: bool = False
    initializing: bool = False
    initialized: asyncio.Event = field(default_factory=asyncio.Event)
    # The last events taken in order (offsets consecutive, up to last_seen): a
    # joiner's history since its snapshot comes from here, not from the broker.
    recent: deque[tuple[int, bytes]] = field(default_factory=deque)
    # The broker's offset at the last position check, while this node was behind.
    behind: int = 0


class Hub:
    def __init__(
        self,
        broker: Broker,
        *,
        tick_seconds: float,
        max_buffer_bytes: int,
        max_connections: int,
        recent_events: int = RECENT_EVENTS,
    ) -> None:
        self.broker = broker
        # Never more than the broker keeps at least: a position the broker has
        # dropped is the broker's to refuse (a reset), on every node alike.
        self.recent_events = min(RECENT_EVENTS, recent_events)
        self.tick_seconds = tick_seconds
        self.max_buffer_bytes = max_buffer_bytes
        self.max_connections = max_connections
        self.channels: dict[str, Channel] = {}
        self.connections = 0
        self.frames_written = 0
        self._loops = Loops()
        self._background: set[asyncio.Task[None]] = set()
        # Joins wait here for the time the ticks leave (see join_gate).
        self.joins = JoinGate()
        self._tick_started: float | None = None
        self._heap = HeapSteward()  # short full GC passes with thousands of viewers

    # -- lifecycle ----------------------------------------------------------

    async def start(self) -> None:
        await self.broker.start(self)
        # One bad pass must not stop delivery for good: the loops log and go on.
        self._loops.every(self.tick_seconds, self.flush, name="pasar-hub-tick", on_the_beat=True)
        counts_every = max(self.tick_seconds, 0.05) * 2
        self._loops.every(counts_every, self.refresh_counts, name="pasar-hub-counts")
        self._loops.every(2.0, self.report_presence, name="pasar-hub-presence", first=True)
        self._loops.every(1.0, self.check_positions, name="pasar-hub-check")
        self._loops.every(1.0, lambda: self._heap.settle(self.connections), name="pasar-heap")

    async def close(self) -> None:
        await self._loops.stop()
        self._heap.release()
        await self.broker.close()

    # -- membership ---------------------------------------------------------

    def full(self) -> bool:
        return self.connections >= self.max_connections

    async def join(self, conn: Conn) -> Channel:
        while True:
            channel = self.channels.get(conn.show_id)
            if channel is None:
                channel = self.channels[conn.show_id] = Channel(
                    initializing=True, recent=deque(maxlen=self.recent_events)
                )
                await self._start_channel(conn.show_id, channel)
                break
            if not channel.initializing:
                break
            # Another socket is starting the channel: positions read after it
            # started are covered by its stream.
            await channel.initialized.wait()
        channel.conns.add(conn)
        self.connections += 1
        return channel

    async def _start_channel(self, show_id: str, channel: Channel) -> None:
        # Follow first (the broker returns once the subscription is on), then read
        # the position: every event after it reaches the channel.
        try:
            await self.broker.follow(show_id)
            pos = await self.broker.position(show_id)
        except BaseException:
            if self.channels.get(show_id) is channel:
                del self.channels[show_id]
            channel.initialized.set()  # waiters retry
            with contextlib.suppress(Exception):
                await self.broker.unfollow(show_id)
            raise
        channel.epoch, channel.last_seen = pos.epoch, pos.offset
        # Events counted in the position are in every joiner's snapshot or history.
        channel.pending = [e for e in channel.pending if e[0] is None or e[0] > pos.offset]
        offsets = [o for o, _ in channel.pending if o is not None]
        if offsets and offsets != list(range(pos.offset + 1, pos.offset + 1 + len(offsets))):
            channel.repairing = True
            self._spawn(self._repair(show_id, channel, pos))
        elif offsets:
            channel.last_seen = offsets[-1]
        channel.initializing = False
        channel.initialized.set()

    async def leave(self, conn: Conn) -> None:
        channel = self.channels.get(conn.show_id)
        if channel is None or conn not in channel.conns:
            return
        channel.conns.discard(conn)
        self.connections -= 1
        conn.closed = True
        if not channel.conns:
            del self.channels[conn.show_id]
            await self.broker.unfollow(conn.show_id)

    def viewers_here(self, show_id: str) -> int:
        channel = self.channels.get(show_id)
        return len(channel.conns) if channel else 0

    async def finish_join(self, conn: Conn, position: Position) -> None:
        """The socket has its snapshot or history up to ``position``: send what
        arrived meanwhile, then let the tick serve it with shared frames."""
        conn.last_offset = position.offset
        while conn.backlog:
            batch = [env for off, env in conn.backlog if off is None or off > conn.last_offset]
            offsets = [off for off, _ in conn.backlog if off is not None]
            conn.backlog = []
            if batch:
                await conn.send(b"[" + b",".join(batch) + b"]")
            if offsets:
                conn.last_offset = max(conn.last_offset, *offsets)
        conn.ready = True

    # -- events from the broker ---------------------------------------------

    def on_event(self, show_id: str, offset: int, env: bytes) -> None:
        channel = self.channels.get(show_id)
        if channel is None:
            return  # not watched here
        if channel.initializing:
            channel.pending.append((offset, env))
            return
        if f'"epoch":"{channel.epoch}"'.encode() not in env:
            # The broker lost its history (a Redis restart): offsets start over.
            if not channel.repairing:
                channel.repairing = True
                self._spawn(self._reset(show_id, channel, "epoch_changed"))
            channel.pending.append((offset, env))
            return
        if offset <= channel.last_seen:
            return  # already seen (after a repair)
        if offset != channel.last_seen + 1 and not channel.repairing:
            channel.repairing = True
            self._spawn(self._repair(show_id, channel, Position(channel.epoch, channel.last_seen)))
        channel.pending.append((offset, env))
        if not channel.repairing:
            channel.last_seen = offset
            recent = channel.recent
            if recent and recent[-1][0] != offset - 1:
                recent.clear()  # a repair filled a gap in between: start a new run
            recent.append((offset, env))

    def recent_since(self, show_id: str, since: Position) -> list[tuple[int, bytes]] | None:
        """The show's events after ``since`` as this node took them, or None
        when it cannot say (not watched here, mid-repair, another epoch, or
        older than it keeps, or newer than it has seen): ask the broker then.

        Events after the last one returned reach a joined socket through the
        tick, so a joiner served from here misses nothing."""
        channel = self.channels.get(show_id)
        if (
            channel is None
            or channel.initializing
            or channel.repairing
            or channel.epoch != since.epoch
            or since.offset > channel.last_seen
        ):
            return None
        if since.offset == channel.last_seen:
            return []
        recent = channel.recent
        if not recent or recent[-1][0] != channel.last_seen or since.offset < recent[0][0] - 1:
            return None
        return list(itertools.islice(recent, since.offset + 1 - recent[0][0], None))

    def on_direct(self, show_id: str, target: str, env: bytes) -> None:
        channel = self.channels.get(show_id)
        if channel is None:
            return
        banned = env.startswith(b'{"type":"user.muted"') and b'"banned":true' in env
        for conn in list(channel.conns):
            if conn.subject == target:
                self._spawn(self._send_then_close(conn, b"[" + env + b"]", banned))

    async def _send_then_close(self, conn: Conn, payload: bytes, close: bool) -> None:
        await self._send_quietly(conn, payload)
        if close and not conn.closed:
            await conn.close(4003, "you are banned from this show")

    def state_event(self, show_id: str, type_: str, data: object) -> None:
        """A node-local, un-numbered event for every socket of the show."""
        channel = self.channels.get(show_id)
        if channel is not None:
            channel.pending.append((None, envelope(type_, dumps(data))))

    async def _repair(self, show_id: str, channel: Channel, since: Position) -> None:
        """Pub/Sub lost events (a Redis reconnect): fetch them from history. While
        the broker is unreachable, retry; the channel holds its events meanwhile."""
        delay = 0.1
        try:
            for _ in range(1000):
                if self.channels.get(show_id) is not channel:
                    return
                try:
                    missing = await self.broker.history(show_id, since)
                except HistoryGap as gap:
                    await self._reset(show_id, channel, gap.reason)
                    return
                except Exception as exc:
                    log.warning("hub repair failed; retrying", show_id=show_id, error=str(exc))
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 2.0)
                    continue
                have = {off for off, _ in channel.pending if off is not None}
                merged = [e for e in missing if e[0] not in have] + channel.pending
                channel.pending = sorted(merged, key=lambda e: (e[0] is None, e[0] or 0))
                offsets = [off for off, _ in channel.pending if off is not None]
                if offsets and offsets != list(range(offsets[0], offsets[0] + len(offsets))):
                    continue  # Pub/Sub lost more meanwhile: history has it by now
                channel.last_seen = max([channel.last_seen, *offsets])
                return
        finally:
            channel.repairing = False

    async def _reset(self, show_id: str, channel: Channel, reason: str) -> None:
        """History cannot fill the gap (Redis lost it, or it is too old): the
        show's sockets reconnect with ``since`` and get a ``reset``; the channel
        starts over at the broker's current position."""
        log.warning("hub cannot repair a gap; resetting viewers", show_id=show_id, reason=reason)
        try:
            pos = await self.broker.position(show_id)
        except Exception as exc:
            log.warning("hub reset failed", show_id=show_id, error=str(exc))
            pos = Position(channel.epoch, channel.last_seen)  # the check loop retries
        for conn in list(channel.conns):
            self._spawn(conn.close(4000, "resync: reconnect with since"))
        channel.epoch, channel.last_seen, channel.behind = pos.epoch, pos.offset, 0
        channel.recent.clear()
        channel.pending = [e for e in channel.pending if e[0] is None]
        channel.repairing = False

    async def check_positions(self) -> None:
        """Catch what Pub/Sub can lose without a later event to reveal the gap:
        the last events before a reconnect, or a new epoch. A node behind the
        broker at two checks in a row repairs from history."""
        shows = [s for s, c in self.channels.items() if not c.initializing]
        positions = await asyncio.gather(*(self.broker.position(s) for s in shows))
        for show_id, pos in zip(shows, positions, strict=True):
            channel = self.channels.get(show_id)
            if channel is None or channel.initializing or channel.repairing:
                continue
            if pos.epoch != channel.epoch:
                channel.repairing = True
                self._spawn(self._reset(show_id, channel, "epoch_changed"))
            elif channel.last_seen >= pos.offset:
                channel.behind = 0
            elif channel.behind and channel.last_seen < channel.behind:
                channel.repairing, channel.behind = True, 0
                self._spawn(self._repair(show_id, channel, Position(pos.epoch, channel.last_seen)))
            else:
                channel.behind = pos.offset

    # -- the tick -------------------------------------------------------------

    def flush(self) -> None:
        started = time.monotonic()
        if self._tick_started is not None:
            # Ticks are due tick_seconds apart: one that starts later had work
            # queued ahead of it on the loop (or the last flush overran).
            self.joins.tick(max(0.0, started - self._tick_started - self.tick_seconds))
        self._tick_started = started
        self._flush()

    def _flush(self) -> None:
        for show_id, channel in list(self.channels.items()):
            if not channel.pending or channel.repairing:
                continue
            events, channel.pending = channel.pending, []
            payload = b"[" + b",".join(env for _, env in events) + b"]"
            frame = text_frame(payload)
            offsets = [off for off, _ in events if off is not None]
            first, top = (min(offsets), max(offsets)) if offsets else (None, None)
            for conn in list(channel.conns):
                if not conn.ready:
                    conn.backlog.extend(events)
                    continue
                conn_payload, conn_frame = payload, frame
                if first is not None and conn.last_offset >= first:
                    # Joined during this tick: its snapshot or history already has
                    # part of the batch. Send it the rest only, never a repeat.
                    rest = [e for off, e in events if off is None or off > conn.last_offset]
                    if not rest:
                        continue
                    conn_payload = b"[" + b",".join(rest) + b"]"
                    conn_frame = text_frame(conn_payload)
                if conn.writer is not None:
                    if conn.writer.buffered() > self.max_buffer_bytes:
                        self._drop_slow(show_id, conn)
                        continue
                    conn.writer.write(conn_frame)
                else:
                    self._spawn(self._send_quietly(conn, conn_payload))
                if top is not None:
                    conn.last_offset = top
                self.frames_written += 1

    def _drop_slow(self, show_id: str, conn: Conn) -> None:
        log.info("dropping slow viewer", show_id=show_id, identity=conn.subject)
        conn.ready = False
        if conn.writer is not None:
            conn.writer.abort()
        self._spawn(self.leave(conn))

    async def _send_quietly(self, conn: Conn, payload: bytes) -> None:
        if conn.closed:
            return
        try:
            await conn.send(payload)
        except Exception:  # the socket went away; its handler cleans up
            await self.leave(conn)

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- counts ----------------------------------------------------------------

    def add_like(self, show_id: str, n: int) -> None:
        channel = self.channels.get(show_id)
        if channel is not None:
            channel.likes_batch += n

    async def refresh_counts(self) -> None:
        """Aggregate this node's likes into the broker, then push changed totals."""
        shows = list(self.channels)
        for show_id in shows:
            channel = self.channels.get(show_id)
            if channel is not None and channel.likes_batch:
                n, channel.likes_batch = channel.likes_batch, 0
                await self.broker.add_likes(show_id, n)
        likes = await self.broker.likes(shows)
        elsewhere = await self.broker.viewers(shows)
        viewers = {s: n + self.viewers_here(s) for s, n in elsewhere.items()}
        for show_id in shows:
            channel = self.channels.get(show_id)
            if channel is None:
                continue
            channel.likes_total, channel.elsewhere = likes[show_id], elsewhere[show_id]
            if likes[show_id] != channel.likes_sent:
                channel.likes_sent = likes[show_id]
                self.state_event(show_id, "like.count", {"count": likes[show_id]})
            if viewers[show_id] != channel.viewers_sent:
                channel.viewers_sent = viewers[show_id]
                self.state_event(show_id, "viewers.count", {"count": viewers[show_id]})

    async def counts(self, show_id: str) -> tuple[int, int]:
        """(likes, viewers) for a joiner's snapshot: this node's own viewers and
        likes now, the rest as of the last refresh (a tick or two ago), so a crowd
        of joiners costs the broker nothing; asked of the broker before the first."""
        channel = self.channels.get(show_id)
        if channel is not None and channel.likes_total >= 0 and channel.elsewhere >= 0:
            likes = channel.likes_total + channel.likes_batch
            return likes, channel.elsewhere + len(channel.conns)
        likes = (await self.broker.likes([show_id]))[show_id]
        return likes, (await self.broker.viewers([show_id]))[show_id] + self.viewers_here(show_id)

    async def report_presence(self) -> None:
        await self.broker.report_presence({s: len(c.conns) for s, c in self.channels.items()})
