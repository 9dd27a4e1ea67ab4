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

Numbering, storing and publishing happen in one Lua script, so offsets reach
every subscriber in order and an event is never published without history.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from typing import Any

import structlog
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from pasar.realtime.broker import HistoryGap, Listener, Position, new_epoch

log = structlog.get_logger()

_PUBLISH = """
local epoch = redis.call('GET', KEYS[1])
if not epoch then
  epoch = ARGV[3]
  redis.call('SET', KEYS[1], epoch)
  redis.call('DEL', KEYS[2], KEYS[3])
end
local off = redis.call('INCR', KEYS[2])
local env = '{"type":"' .. ARGV[1] .. '","epoch":"' .. epoch .. '","offset":' .. off ..
  ',"data":' .. ARGV[2] .. '}'
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[4], off .. '-0', 'e', env, 't', ARGV[5])
redis.call('PUBLISH', KEYS[4], off .. ' ' .. env)
return {epoch, off}
"""

NODES_KEY = "rt:nodes"


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
    ) -> None:
        self.node_id = f"node-{secrets.token_hex(6)}"
        self.redis: Redis = Redis.from_url(url)
        self.min_events = min_events
        self.min_seconds = min_seconds
        self.max_events = max_events
        self.presence_ttl = presence_ttl
        self._publish = self.redis.register_script(_PUBLISH)
        self._pubsub: PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        self._listener: Listener | None = None
        self._followed: set[str] = set()
        self._reported: set[str] = set()

    async def start(self, listener: Listener) -> None:
        self._listener = listener
        await self.redis.ping()
        self._pubsub = self.redis.pubsub()
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
        if self._pubsub is not None:
            with contextlib.suppress(RedisError, OSError):
                await self._pubsub.aclose()  # type: ignore[no-untyped-call]
        await self.redis.aclose()

    async def follow(self, show_id: str) -> None:
        if show_id not in self._followed and self._pubsub is not None:
            self._followed.add(show_id)
            await self._pubsub.subscribe(_k(show_id, "live"), _k(show_id, "direct"))

    async def unfollow(self, show_id: str) -> None:
        if show_id in self._followed and self._pubsub is not None:
            self._followed.discard(show_id)
            await self._pubsub.unsubscribe(_k(show_id, "live"), _k(show_id, "direct"))

    async def _read(self) -> None:
        assert self._pubsub is not None
        while True:
            try:
                if not self._pubsub.subscribed:
                    await asyncio.sleep(0.05)
                    continue
                message = await self._pubsub.get_message(
                    ignore_subscribe_messages=True, timeout=1.0
                )
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                # The hub notices offset gaps and fills them from history.
                log.warning("redis pubsub interrupted", error=str(exc))
                await asyncio.sleep(0.5)
                continue
            if message is None or self._listener is None:
                continue
            self._dispatch(message)

    def _dispatch(self, message: dict[str, Any]) -> None:
        assert self._listener is not None
        channel: bytes = message["channel"]
        data: bytes = message["data"]
        show_id = channel.split(b"{", 1)[1].split(b"}", 1)[0].decode()
        head, _, body = data.partition(b" ")
        if channel.endswith(b":live"):
            self._listener.on_event(show_id, int(head), body)
        else:
            self._listener.on_direct(show_id, head.decode(), body)

    async def publish(self, show_id: str, type_: str, data_json: str) -> Position:
        keys = [_k(show_id, k) for k in ("epoch", "off", "hist", "live")]
        args: list[str | int] = [
            type_,
            data_json,
            new_epoch(),
            self.max_events,
            int(time.time() * 1000),
        ]
        epoch, offset = await self._publish(keys=keys, args=args)
        return Position(epoch.decode(), int(offset))

    async def publish_direct(self, show_id: str, target: str, envelope: bytes) -> None:
        await self.redis.publish(_k(show_id, "direct"), target.encode() + b" " + envelope)

    async def position(self, show_id: str) -> Position:
        epoch, offset = await self.redis.mget(_k(show_id, "epoch"), _k(show_id, "off"))
        if epoch is None:
            # First look at this show: create the epoch so positions handed out now
            # stay valid once events start.
            await self.redis.set(_k(show_id, "epoch"), new_epoch(), nx=True)
            epoch, offset = await self.redis.mget(_k(show_id, "epoch"), _k(show_id, "off"))
        return Position(_text(epoch), int(offset or 0))

    async def history(self, show_id: str, since: Position) -> list[tuple[int, bytes]]:
        current = await self.position(show_id)
        if since.epoch != current.epoch:
            raise HistoryGap("epoch_changed")
        if since.offset > current.offset:
            raise HistoryGap("bad_position")
        if since.offset == current.offset:
            return []
        entries: Any = await self.redis.xrange(
            _k(show_id, "hist"), min=f"({since.offset}-0", max="+"
        )
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
        pipe.zadd(NODES_KEY, {self.node_id: time.time()})
        for show_id, count in counts.items():
            pipe.hset(_k(show_id, "presence"), self.node_id, count)
        for show_id in self._reported - counts.keys():
            pipe.hdel(_k(show_id, "presence"), self.node_id)
        # Forget nodes that died long ago so the set does not grow forever.
        pipe.zremrangebyscore(NODES_KEY, 0, time.time() - 24 * 3600)
        await pipe.execute()
        self._reported = set(counts)

    async def viewers(self, show_ids: list[str]) -> dict[str, int]:
        if not show_ids:
            return {}
        pipe = self.redis.pipeline()
        pipe.zrangebyscore(NODES_KEY, time.time() - self.presence_ttl, "+inf")
        for show_id in show_ids:
            pipe.hgetall(_k(show_id, "presence"))
        alive_raw, *per_show = await pipe.execute()
        alive = set(alive_raw)
        own = self.node_id.encode()
        return {
            s: sum(int(c) for node, c in counts.items() if node in alive and node != own)
            for s, counts in zip(show_ids, per_show, strict=True)
        }
