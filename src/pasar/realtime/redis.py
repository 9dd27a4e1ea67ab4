"""The Redis broker: one publish per event, every node fans out locally.

Keys of one show share the hash tag ``{show_id}``, so a Redis Cluster keeps
them on one shard. Per show:

- ``rt:{s}:epoch``  the history generation; a new one after Redis loses data
- ``rt:{s}:off``    the last offset (INCR)
- ``rt:{s}:hist``   a Stream whose entry ids are ``<offset>-0``, so a resume is
                    one XRANGE from the client's offset
- ``rt:{s}:live``   the Pub/Sub channel nodes following the show subscribe to
- ``rt:{s}:direct`` the channel for events to one shopper
- ``rt:{s}:likes``  the like counter
- ``rt:{s}:presence`` hash node id → that node's viewers; counted only for
                    nodes whose heartbeat in ``rt:nodes`` is fresh

and ``rt:gen:<key>``, a counter (INCR) that nodes compare before trusting what
they keep in memory about ``<key>`` (a vendor's moderation rules).

Numbering, storing and publishing happen in one Lua script, so offsets reach
every subscriber in order and an event is never published without history.

Pub/Sub runs on one dedicated connection that only the reader task reads and
that only the reader task re-opens; ``follow``/``unfollow`` just write
SUBSCRIBE/UNSUBSCRIBE to it under a lock (redis-py's ``PubSub`` helper reconnects
from whichever task touches it, and two tasks reading one stream corrupt it).
After a reconnect the reader subscribes every followed show again; events lost
meanwhile reach the hub from history (``hub.py`` repairs gaps and checks
positions). Heartbeats use the Redis server's clock, so nodes need not agree.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from typing import Any

import structlog
from redis.asyncio import BlockingConnectionPool, ConnectionPool, Redis
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import RedisError

from pasar.realtime.broker import HistoryGap, Listener, Position, new_epoch

log = structlog.get_logger()


def _with_epoch(fresh: str, rest: str) -> str:
    """A script that first reads the show's epoch (KEYS[1]) and, when Redis has none,
    creates it as ``fresh`` with an empty offset counter (KEYS[2]) and history (KEYS[3])."""
    return f"""
local epoch = redis.call('GET', KEYS[1])
if not epoch then
  epoch = {fresh}
  redis.call('SET', KEYS[1], epoch)
  redis.call('DEL', KEYS[2], KEYS[3])
end
{rest}"""


_PUBLISH = _with_epoch(
    "ARGV[3]",
    """local off = redis.call('INCR', KEYS[2])
local env = '{"type":"' .. ARGV[1] .. '","epoch":"' .. epoch .. '","offset":' .. off ..
  ',"data":' .. ARGV[2] .. '}'
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[4], off .. '-0', 'e', env, 't', ARGV[5])
redis.call('PUBLISH', KEYS[4], off .. ' ' .. env)
return {epoch, off}
""",
)

# The show's epoch and its last offset.
_POSITION = _with_epoch("ARGV[1]", "return {epoch, tonumber(redis.call('GET', KEYS[2]) or '0')}\n")

# A heartbeat on the server's clock: nodes' clocks may disagree.
_HEARTBEAT = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1000000
redis.call('ZADD', KEYS[1], t, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, t - 86400)
return 1
"""

_ALIVE = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1000000
return redis.call('ZRANGEBYSCORE', KEYS[1], t - tonumber(ARGV[1]), '+inf')
"""

NODES_KEY = "rt:nodes"
# Pub/Sub connection: how long a silent connection waits before a PING, and how
# long follow() waits for Redis to confirm a subscription.
IDLE_PING_SECONDS = 10.0
SUBSCRIBE_WAIT_SECONDS = 5.0
# Commands in flight at once per node; more wait for a free connection.
MAX_CONNECTIONS = 64
# An unreachable Redis is noticed this soon (tests on a loaded machine pass more).
CONNECT_TIMEOUT_SECONDS = 5.0


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _k(show_id: str, what: str) -> str:
    return f"rt:{{{show_id}}}:{what}"


class RedisBroker:
    def __init__(
        self,
        url: str,
        *,
        min_events: int,
        min_seconds: float,
        max_events: int,
        presence_ttl: float = 30.0,
        connect_timeout: float = CONNECT_TIMEOUT_SECONDS,
    ) -> None:
        self.node_id = f"node-{secrets.token_hex(6)}"
        # A dead connection fails a command after a while instead of hanging it;
        # a burst of commands (a thousand viewers joining) waits for a connection
        # instead of failing with "Too many connections".
        timeouts: dict[str, Any] = {"socket_timeout": 15, "socket_connect_timeout": connect_timeout}
        pool = BlockingConnectionPool.from_url(
            url, max_connections=MAX_CONNECTIONS, timeout=10, **timeouts
        )
        self.redis: Redis = Redis.from_pool(pool)
        # Pub/Sub speaks RESP2 so messages are plain arrays.
        self._sub_pool = ConnectionPool.from_url(url, protocol=2, **timeouts)
        self.min_events = min_events
        self.min_seconds = min_seconds
        self.max_events = max_events
        self.presence_ttl = presence_ttl
        self._publish = self.redis.register_script(_PUBLISH)
        self._position = self.redis.register_script(_POSITION)
        self._heartbeat = self.redis.register_script(_HEARTBEAT)
        self._alive = self.redis.register_script(_ALIVE)
        self._sub: AbstractConnection | None = None
        self._sub_lock = asyncio.Lock()
        self._reader: asyncio.Task[None] | None = None
        self._listener: Listener | None = None
        # Followed shows → resolved once Redis confirmed the subscription.
        self._followed: dict[str, asyncio.Future[None]] = {}
        self._reported: set[str] = set()

    async def start(self, listener: Listener) -> None:
        self._listener = listener
        await self.redis.ping()
        await self._subscribe_connection()
        self._reader = asyncio.create_task(self._read(), name="pasar-redis-broker")

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, RedisError):
                await self._reader
        with contextlib.suppress(RedisError, OSError):
            # Leave at once rather than after the presence TTL.
            pipe = self.redis.pipeline()
            for show_id in self._reported:
                pipe.hdel(_k(show_id, "presence"), self.node_id)
            pipe.zrem(NODES_KEY, self.node_id)
            await pipe.execute()
        async with self._sub_lock:
            if self._sub is not None:
                with contextlib.suppress(RedisError, OSError):
                    await self._sub.disconnect()
                self._sub = None
        for waiter in self._followed.values():
            waiter.cancel()
        await self._sub_pool.aclose()
        await self.redis.aclose()

    # -- Pub/Sub ------------------------------------------------------------------

    async def follow(self, show_id: str) -> None:
        """Subscribe, and return once Redis confirmed it (or after a few seconds:
        the hub's position checks cover a subscription that took longer)."""
        waiter = self._followed.get(show_id)
        if waiter is None:
            waiter = self._followed[show_id] = asyncio.get_running_loop().create_future()
            await self._command("SUBSCRIBE", _k(show_id, "live"), _k(show_id, "direct"))
        await asyncio.wait([waiter], timeout=SUBSCRIBE_WAIT_SECONDS)

    async def unfollow(self, show_id: str) -> None:
        waiter = self._followed.pop(show_id, None)
        if waiter is not None:
            waiter.cancel()
            await self._command("UNSUBSCRIBE", _k(show_id, "live"), _k(show_id, "direct"))

    async def _command(self, *args: str) -> None:
        """Write to the Pub/Sub connection. Never reconnects: when the connection
        is down the reader re-opens it and subscribes every followed show."""
        async with self._sub_lock:
            conn = self._sub
            if conn is None or not conn.is_connected:
                return
            try:
                await conn.send_command(*args, check_health=False)
            except Exception as exc:  # closed under us: the reader reconnects
                log.warning("redis pubsub write failed", error=str(exc) or type(exc).__name__)

    async def _subscribe_connection(self) -> None:
        conn = self._sub_pool.make_connection()  # type: ignore[no-untyped-call]
        await conn.connect()
        async with self._sub_lock:
            self._sub = conn
            if self._followed:
                channels = [_k(s, w) for s in self._followed for w in ("live", "direct")]
                await conn.send_command("SUBSCRIBE", *channels, check_health=False)

    async def _drop_connection(self, conn: AbstractConnection) -> None:
        async with self._sub_lock:
            if self._sub is conn:
                self._sub = None
        with contextlib.suppress(RedisError, OSError):
            await conn.disconnect(nowait=True)

    async def _read(self) -> None:
        delay = 0.05
        while True:
            conn = self._sub
            try:
                if conn is None:
                    await self._subscribe_connection()
                    log.info("redis pubsub reconnected", shows=len(self._followed))
                    continue
                pinged = False
                while True:
                    response = await conn.read_response(timeout=IDLE_PING_SECONDS)
                    if response is None:  # quiet: make sure the connection is alive
                        if pinged:
                            raise ConnectionError("no answer to PING")
                        pinged = True
                        await self._command("PING")
                        continue
                    pinged = False
                    delay = 0.05
                    self._handle(response)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # nothing may stop the reader for good
                # The hub notices offset gaps and fills them from history.
                log.warning("redis pubsub interrupted", error=str(exc) or type(exc).__name__)
                if conn is not None:
                    await self._drop_connection(conn)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    def _handle(self, response: Any) -> None:
        if not isinstance(response, list) or len(response) < 3:
            return  # a PONG
        kind, channel, data = response[0], response[1], response[2]
        show_id = bytes(channel).split(b"{", 1)[1].split(b"}", 1)[0].decode()
        if kind == b"message":
            if self._listener is None or show_id not in self._followed:
                return
            head, _, body = bytes(data).partition(b" ")
            if channel.endswith(b":live"):
                self._listener.on_event(show_id, int(head), body)
            else:
                self._listener.on_direct(show_id, head.decode(), body)
        elif kind == b"subscribe" and channel.endswith(b":direct"):
            # SUBSCRIBE live direct confirms in order: both channels are on.
            waiter = self._followed.get(show_id)
            if waiter is not None and not waiter.done():
                waiter.set_result(None)

    def _publish_call(self, show_id: str, type_: str, data_json: str) -> dict[str, Any]:
        keys = [_k(show_id, k) for k in ("epoch", "off", "hist", "live")]
        args: list[str | int] = [
            type_,
            data_json,
            new_epoch(),
            self.max_events,
            int(time.time() * 1000),
        ]
        return {"keys": keys, "args": args}

    async def publish(self, show_id: str, type_: str, data_json: str) -> Position:
        epoch, offset = await self._publish(**self._publish_call(show_id, type_, data_json))
        return Position(epoch.decode(), int(offset))

    async def publish_many(self, events: list[tuple[str, str, str]]) -> list[Position]:
        # A pipeline keeps the order: each show's offsets are assigned as listed.
        pipe = self.redis.pipeline(transaction=False)
        for show_id, type_, data_json in events:
            await self._publish(**self._publish_call(show_id, type_, data_json), client=pipe)
        return [Position(e.decode(), int(o)) for e, o in await pipe.execute()]

    async def publish_direct(self, show_id: str, target: str, envelope: bytes) -> None:
        await self.redis.publish(_k(show_id, "direct"), target.encode() + b" " + envelope)

    async def position(self, show_id: str) -> Position:
        # A first look at a show creates its epoch, so positions handed out now
        # stay valid once events start.
        keys = [_k(show_id, k) for k in ("epoch", "off", "hist")]
        epoch, offset = await self._position(keys=keys, args=[new_epoch()])
        return Position(_text(epoch), int(offset))

    async def history(self, show_id: str, since: Position) -> list[tuple[int, bytes]]:
        # One transaction: the epoch, the offset and the entries belong together.
        pipe = self.redis.pipeline(transaction=True)
        pipe.get(_k(show_id, "epoch"))
        pipe.get(_k(show_id, "off"))
        pipe.xrange(_k(show_id, "hist"), min=f"({since.offset}-0", max="+")
        epoch, offset, entries = await pipe.execute()
        if epoch is None or since.epoch != _text(epoch):
            raise HistoryGap("epoch_changed")
        latest = int(offset or 0)
        if since.offset > latest:
            raise HistoryGap("bad_position")
        if since.offset == latest:
            return []
        events = [(int(bytes(eid).split(b"-")[0]), bytes(fields[b"e"])) for eid, fields in entries]
        if not events or events[0][0] != since.offset + 1:
            raise HistoryGap("too_old")
        return events

    async def trim(self, show_id: str) -> None:
        """Drop history beyond ``min_events`` that is older than ``min_seconds``."""
        key = _k(show_id, "hist")
        if await self.redis.xlen(key) <= self.min_events:
            return
        oldest: Any = await self.redis.xrange(key, count=1)
        if oldest and int(oldest[0][1][b"t"]) < (time.time() - self.min_seconds) * 1000:
            await self.redis.xtrim(key, maxlen=self.min_events, approximate=True)

    async def add_likes(self, show_id: str, n: int) -> int:
        return int(await self.redis.incrby(_k(show_id, "likes"), n))

    async def likes(self, show_ids: list[str]) -> dict[str, int]:
        if not show_ids:
            return {}
        values = await self.redis.mget([_k(s, "likes") for s in show_ids])
        return {s: int(v or 0) for s, v in zip(show_ids, values, strict=True)}

    async def report_presence(self, counts: dict[str, int]) -> None:
        pipe = self.redis.pipeline()
        await self._heartbeat(keys=[NODES_KEY], args=[self.node_id], client=pipe)  # queued
        for show_id, count in counts.items():
            pipe.hset(_k(show_id, "presence"), self.node_id, count)
        for show_id in self._reported - counts.keys():
            pipe.hdel(_k(show_id, "presence"), self.node_id)
        await pipe.execute()
        self._reported = set(counts)

    async def viewers(self, show_ids: list[str]) -> dict[str, int]:
        if not show_ids:
            return {}
        pipe = self.redis.pipeline()
        await self._alive(keys=[NODES_KEY], args=[self.presence_ttl], client=pipe)  # queued
        for show_id in show_ids:
            pipe.hgetall(_k(show_id, "presence"))
        alive_raw, *per_show = await pipe.execute()
        alive = set(alive_raw)
        own = self.node_id.encode()
        return {
            s: sum(int(c) for node, c in counts.items() if node in alive and node != own)
            for s, counts in zip(show_ids, per_show, strict=True)
        }

    async def bump(self, key: str) -> None:
        await self.redis.incr(f"rt:gen:{key}")

    async def generations(self, keys: list[str]) -> dict[str, int]:
        if not keys:
            return {}
        values = await self.redis.mget([f"rt:gen:{k}" for k in keys])
        # A restarted Redis starts at 0 again: any difference makes nodes reload.
        return {k: int(v or 0) for k, v in zip(keys, values, strict=True)}
