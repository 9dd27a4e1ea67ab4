"""The bare broadcast server: the machine's limit for the fan-out, with no Pasar code.

A plain ``asyncio.Protocol`` per connection (on uvloop, as ``pasar serve``) that
answers the WebSocket handshake, sends a first frame (the generator's clients are
ready once they have one) and then, every tick, writes **one pre-encoded frame** to
every connection. The frame carries the events of a Pasar frame: the chat messages
the senders sent during the tick (with an epoch, contiguous offsets and the sender's
text, so the probes time and check them as they do against Pasar), topped up with
filler envelopes to ``--events-per-s`` per viewer, every envelope padded to
``--event-bytes``. A chat message is acked to its sender at once.

Plain asyncio rather than the ``websockets`` library: the same server on
``websockets`` (17.4, ``broadcast``) was measured heavier, with 2,000 viewers at
~100 events/s each 24 % of a core and 13.6 kB per connection against 14 % and
1.4 kB here (December 2026), so this one is closer to the machine's limit.
Run as a script::

    python bench/_fanout/bare.py --port P --tick-ms 100 --events-per-s 30 --event-bytes 160
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import json
import sys
from typing import Any, cast

from _fanout.clients import head_end  # stdlib only: still no Pasar code

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC11B65"
EPOCH = "bare"


def frame(payload: bytes) -> bytes:
    """A final, unmasked server text frame."""
    n = len(payload)
    if n < 126:
        header = bytes((0x81, n))
    elif n < 1 << 16:
        header = bytes((0x81, 126)) + n.to_bytes(2, "big")
    else:
        header = bytes((0x81, 127)) + n.to_bytes(8, "big")
    return header + payload


def envelope(type_: str, data: dict[str, Any], size: int, **extra: Any) -> dict[str, Any]:
    """An event envelope padded (``data.pad``) to about ``size`` bytes of JSON."""
    ev = {"type": type_, **extra, "data": data}
    short = size - len(json.dumps(ev, separators=(",", ":"))) - len(',"pad":""')
    if short > 0:
        data["pad"] = "x" * short
    return ev


class Hub:
    """The connections that have done the handshake, and the next tick's events."""

    def __init__(self, events_per_tick: float, event_bytes: int) -> None:
        self.conns: set[Conn] = set()
        self.chats: list[dict[str, Any]] = []
        self.offset = 0
        self.events_per_tick = events_per_tick
        self.event_bytes = event_bytes
        self.owed = 0.0

    def chat(self, text: str) -> None:
        self.offset += 1
        self.chats.append(
            envelope(
                "chat.message",
                {"text": text, "user": "bench"},
                self.event_bytes,
                epoch=EPOCH,
                offset=self.offset,
            )
        )

    def tick(self) -> None:
        self.owed += self.events_per_tick
        events, self.chats = self.chats, []
        filler = int(self.owed) - len(events)
        if filler > 0:
            pad = envelope("like.count", {"count": 1}, self.event_bytes)
            events += [pad] * filler
        self.owed -= int(self.owed)
        if not events:
            return
        data = frame(json.dumps(events, separators=(",", ":")).encode())
        for conn in self.conns:
            conn.transport.write(data)


class Conn(asyncio.Protocol):
    """One client: the handshake by hand, then its frames (chat is acked and queued)."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.transport: asyncio.Transport
        self.head: bytearray | None = bytearray()
        self.buf = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.hub.conns.discard(self)

    def data_received(self, data: bytes) -> None:
        if self.head is not None:
            end = head_end(self.head, data)
            if end < 0:
                return
            key = b""
            for line in bytes(self.head[:end]).split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"sec-websocket-key":
                    key = value.strip()
            data, self.head = bytes(self.head[end + 4 :]), None
            accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
            self.transport.write(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Accept: "
                + accept
                + b"\r\n\r\n"
                + frame(b'[{"type":"snapshot","data":{}}]')
            )
            self.hub.conns.add(self)
        self.buf += data
        self.frames()

    def frames(self) -> None:
        """Client frames (masked): chat is acked and queued, a close closes, the rest
        (the viewers' auth, likes, pongs) is ignored."""
        buf = self.buf
        while len(buf) >= 6:
            op, n = buf[0] & 0x0F, buf[1] & 0x7F
            h = 2 if n < 126 else (4 if n == 126 else 10)
            if h > 2:
                if len(buf) < h:
                    return
                n = int.from_bytes(buf[2:h], "big")
            if len(buf) < h + 4 + n:
                return
            key = bytes(buf[h : h + 4])
            body = bytes(buf[h + 4 : h + 4 + n])
            del buf[: h + 4 + n]
            stream = (key * (n // 4 + 1))[:n]
            payload = (int.from_bytes(body, "big") ^ int.from_bytes(stream, "big")).to_bytes(
                n, "big"
            )
            if op == 0x8:
                self.transport.close()
                return
            if op == 0x1 and b'"chat.send"' in payload:
                msg = json.loads(payload)
                self.hub.chat(msg["text"])
                ack = {"type": "ack", "data": {"ref": msg.get("ref")}}
                self.transport.write(frame(json.dumps([ack]).encode()))


async def serve(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    hub = Hub(args.events_per_s * args.tick_ms / 1000, args.event_bytes)
    server = await loop.create_server(
        lambda: Conn(hub), "127.0.0.1", args.port, backlog=4096, reuse_address=True
    )
    print("bare ready", flush=True)
    tick = args.tick_ms / 1000
    next_at = loop.time() + tick
    async with server:
        while True:
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            next_at += tick
            hub.tick()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--tick-ms", type=int, default=100)
    p.add_argument("--events-per-s", type=float, default=30.0, help="per viewer")
    p.add_argument("--event-bytes", type=int, default=160, help="JSON bytes per envelope")
    args = p.parse_args()
    run = asyncio.run
    with contextlib.suppress(ImportError):
        import uvloop

        run = uvloop.run
    with contextlib.suppress(KeyboardInterrupt):
        run(serve(args))


if __name__ == "__main__":
    sys.exit(main())
