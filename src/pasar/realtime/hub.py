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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import structlog

from pasar.realtime.broker import Broker, HistoryGap, Position, dumps, envelope
from pasar.realtime.identity import Identity
from pasar.realtime.wire import RawWriter, text_frame

log = structlog.get_logger()

# Close codes (also in docs/realtime.md).
CLOSE_SLOW = 4001


class Conn:
    """One viewer socket. ``send`` is the slow, per-connection path (snapshots,
    direct events); ``writer`` is the shared-frame fast path when the server has it."""

    __slots__ = (
        "backlog",
        "close",
        "closed",
        "identity",
        "ip",
        "last_offset",
        "ready",
        "send",
        "show_id",
        "writer",
    )

    def __init__(
        self,
        show_id: str,
        identity: Identity,
        ip: str,
        send: Callable[[bytes], Awaitable[None]],
        close: Callable[[int, str], Awaitable[None]],
        writer: RawWriter | None,
    ) -> None:
        self.show_id = show_id
        self.identity = identity
        self.ip = ip
        self.send = send
        self.close = close
        self.writer = writer
        self.last_offset = 0
        self.ready = False
        self.closed = False
        self.backlog: list[tuple[int | None, bytes]] = []


@dataclass
class Channel:
    conns: set[Conn] = field(default_factory=set)
    pending: list[tuple[int | None, bytes]] = field(default_factory=list)
    last_seen: int = 0
    epoch: str = ""
    likes_batch: int = 0
    likes_sent: int = -1
    viewers_sent: int = -1
    repairing: bool = False
    initializing: bool = False


class Hub:
    def __init__(
        self,
        broker: Broker,
        *,
        tick_seconds: float,
        max_buffer_bytes: int,
        max_connections: int,
    ) -> None:
        self.broker = broker
        self.tick_seconds = tick_seconds
        self.max_buffer_bytes = max_buffer_bytes
        self.max_connections = max_connections
        self.channels: dict[str, Channel] = {}
        self.connections = 0
        self.frames_written = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._background: set[asyncio.Task[None]] = set()

    # -- lifecycle ----------------------------------------------------------

    async def start(self) -> None:
        await self.broker.start(self)
        self._tasks = [
            asyncio.create_task(self._tick_loop(), name="pasar-hub-tick"),
            asyncio.create_task(self._counts_loop(), name="pasar-hub-counts"),
            asyncio.create_task(self._presence_loop(), name="pasar-hub-presence"),
        ]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.broker.close()

    # -- membership ---------------------------------------------------------

    def full(self) -> bool:
        return self.connections >= self.max_connections

    async def join(self, conn: Conn) -> Channel:
        channel = self.channels.get(conn.show_id)
        if channel is None:
            # Follow first, then read the position: nothing published in between is
            # missed, and events already counted in the position are skipped below.
            channel = self.channels[conn.show_id] = Channel(initializing=True)
            await self.broker.follow(conn.show_id)
            pos = await self.broker.position(conn.show_id)
            channel.epoch = pos.epoch
            channel.last_seen = max([pos.offset, *(o for o, _ in channel.pending if o)])
            channel.initializing = False
        channel.conns.add(conn)
        self.connections += 1
        return channel

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
        if channel is None or offset <= channel.last_seen:
            return  # not watched here, or already seen (after a repair)
        if channel.initializing:
            channel.pending.append((offset, env))
            return
        if offset != channel.last_seen + 1 and not channel.repairing:
            channel.repairing = True
            self._spawn(self._repair(show_id, channel, Position(channel.epoch, channel.last_seen)))
        channel.pending.append((offset, env))
        if not channel.repairing:
            channel.last_seen = offset

    def on_direct(self, show_id: str, target: str, env: bytes) -> None:
        channel = self.channels.get(show_id)
        if channel is None:
            return
        banned = env.startswith(b'{"type":"user.muted"') and b'"banned":true' in env
        for conn in list(channel.conns):
            if conn.identity.id == target:
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
        """Pub/Sub lost events (a Redis reconnect): fetch them from history."""
        try:
            missing = await self.broker.history(show_id, since)
        except HistoryGap:
            log.warning("hub cannot repair a gap; resetting viewers", show_id=show_id)
            for conn in list(channel.conns):
                self._spawn(conn.close(4000, "resync: reconnect with since"))
            missing = []
        have = {off for off, _ in channel.pending if off is not None}
        merged = [e for e in missing if e[0] not in have] + channel.pending
        channel.pending = sorted(merged, key=lambda e: (e[0] is None, e[0] or 0))
        offsets = [off for off, _ in channel.pending if off is not None]
        channel.last_seen = max([channel.last_seen, *offsets])
        channel.repairing = False

    # -- the tick -------------------------------------------------------------

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(self.tick_seconds)
            try:
                self.flush()
            except Exception:  # one bad tick must not stop delivery for good
                log.exception("hub tick failed")

    def flush(self) -> None:
        for show_id, channel in list(self.channels.items()):
            if not channel.pending or channel.repairing:
                continue
            events, channel.pending = channel.pending, []
            payload = b"[" + b",".join(env for _, env in events) + b"]"
            frame = text_frame(payload)
            top = max((off for off, _ in events if off is not None), default=None)
            for conn in list(channel.conns):
                if not conn.ready:
                    conn.backlog.extend(events)
                    continue
                if top is not None and conn.last_offset >= top:
                    continue
                if conn.writer is not None:
                    if conn.writer.buffered() > self.max_buffer_bytes:
                        self._drop_slow(show_id, conn)
                        continue
                    conn.writer.write(frame)
                else:
                    self._spawn(self._send_quietly(conn, payload))
                if top is not None:
                    conn.last_offset = top
                self.frames_written += 1

    def _drop_slow(self, show_id: str, conn: Conn) -> None:
        log.info("dropping slow viewer", show_id=show_id, identity=conn.identity.id)
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

    async def _counts_loop(self) -> None:
        while True:
            await asyncio.sleep(max(self.tick_seconds, 0.05) * 2)
            try:
                await self.refresh_counts()
            except Exception:
                log.exception("refreshing counts failed")

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
            if likes[show_id] != channel.likes_sent:
                channel.likes_sent = likes[show_id]
                self.state_event(show_id, "like.count", {"count": likes[show_id]})
            if viewers[show_id] != channel.viewers_sent:
                channel.viewers_sent = viewers[show_id]
                self.state_event(show_id, "viewers.count", {"count": viewers[show_id]})

    async def _presence_loop(self) -> None:
        while True:
            try:
                await self.report_presence()
            except Exception:
                log.exception("reporting presence failed")
            await asyncio.sleep(2.0)

    async def report_presence(self) -> None:
        await self.broker.report_presence({s: len(c.conns) for s, c in self.channels.items()})
