"""The generator's WebSocket clients: raw ``asyncio.Protocol``s that do the handshake
by hand, so that ten thousand of them fit in one process.

* ``Viewer`` counts the events in its byte stream without parsing JSON (it walks
  the frame headers only to answer pings and notice a close);
* ``Probe`` parses every frame: latency per chat message, offsets, event types;
* ``Sender`` sends chat messages and likes (it is not counted as a viewer) and
  counts the server's acks and refusals.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections import Counter
from typing import Any, cast

PAT = b'{"type":"'  # starts every event envelope; never occurs inside a JSON string
PAT_TAIL = len(PAT) - 1


def client_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """A final, masked client frame (RFC 6455 §5.3)."""
    n = len(payload)
    if n < 126:
        header = bytes((0x80 | opcode, 0x80 | n))
    else:
        header = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
    key = os.urandom(4)
    stream = (key * (n // 4 + 1))[:n]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(stream, "big")).to_bytes(n, "big")
    return header + key + masked


AUTH_FRAME = client_frame(b'{"type": "auth"}')


def head_end(head: bytearray, data: bytes) -> int:
    """Add ``data`` to an HTTP head being read; where the head ends (-1: not yet).
    The client reads the server's 101 with it, the bare server the client's request."""
    head += data
    return head.find(b"\r\n\r\n")


class Window:
    """The measurement window, shared by every probe of the generator."""

    start_ns = 1 << 62
    end_ns = 1 << 62
    latencies_ms: list[float] = []
    acks_ms: list[float] = []  # chat send → the sender's ack (the server has published it)


class Viewer(asyncio.Protocol):
    """A WebSocket client that counts events in its byte stream without parsing JSON."""

    kind = "counter"

    def __init__(self, request: bytes, ready: asyncio.Future[bool]) -> None:
        self.request = request
        self.ready = ready
        self.transport: asyncio.Transport | None = None
        self.head: bytearray | None = bytearray()
        self.nbytes = 0
        self.events = 0
        self.frames = 0
        self.close_code: int | None = None
        self.gone = False
        # frame walking (counters only)
        self._tail = b""
        self._hdr = b""
        self._skip = 0
        self._op = 0
        self._ctrl: bytearray | None = None

    # -- connection --------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass
        self.transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        self.gone = True
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(f"closed before the snapshot ({exc})"))

    def data_received(self, data: bytes) -> None:
        if self.head is not None:
            end = head_end(self.head, data)
            if end < 0:
                return
            status = bytes(self.head[: self.head.find(b"\r\n")])
            rest = bytes(self.head[end + 4 :])
            self.head = None
            if b" 101 " not in status:
                if not self.ready.done():
                    self.ready.set_exception(ConnectionError(status.decode("latin-1")))
                self.abort()
                return
            # The first frame says who we are: a new guest.
            self.transport.write(AUTH_FRAME)  # type: ignore[union-attr]
            if not rest:
                return
            data = rest
        self.on_data(data)

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def send(self, obj: dict[str, Any]) -> None:
        if self.transport is not None and not self.gone:
            self.transport.write(client_frame(json.dumps(obj).encode()))

    # -- frames ----------------------------------------------------------------

    def on_data(self, data: bytes) -> None:
        self.nbytes += len(data)
        n = data.count(PAT)
        if self._tail:
            n += (self._tail + data[:PAT_TAIL]).count(PAT)
        self._tail = data[-PAT_TAIL:] if len(data) >= PAT_TAIL else (self._tail + data)[-PAT_TAIL:]
        self.events += n
        if self._hdr:
            data, self._hdr = self._hdr + data, b""
        i, end, skip = 0, len(data), self._skip
        while True:
            if skip:
                left = end - i
                if left < skip:
                    if self._ctrl is not None:
                        self._ctrl += data[i:]
                    self._skip = skip - left
                    return
                if self._ctrl is not None:
                    self._ctrl += data[i : i + skip]
                i += skip
                skip = 0
                self._frame_end()
            self._skip = 0
            if end - i < 2:
                if i < end:
                    self._hdr = data[i:]
                return
            b0, length = data[i], data[i + 1] & 0x7F
            h = 2 if length < 126 else (4 if length == 126 else 10)
            if end - i < h:
                self._hdr = data[i:]
                return
            if h > 2:
                length = int.from_bytes(data[i + 2 : i + h], "big")
            i += h
            self._op = b0 & 0x0F
            self._ctrl = bytearray() if self._op >= 8 else None
            skip = length
            if not skip:
                self._frame_end()

    def _frame_end(self) -> None:
        op = self._op
        if op <= 2:
            self.frames += 1
            if not self.ready.done():
                self.ready.set_result(True)
        else:
            self.control(op, bytes(self._ctrl or b""))
        self._ctrl = None

    def control(self, op: int, payload: bytes) -> None:
        if self.transport is None:
            return
        if op == 0x9:  # ping → pong, as the server closes sockets that never answer
            self.transport.write(client_frame(payload, 0xA))
        elif op == 0x8:
            self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
            self.transport.write(client_frame(payload[:2], 0x8))
            self.transport.close()


class Probe(Viewer):
    """A viewer that parses every frame: latency per chat message, offsets, event types."""

    kind = "probe"

    def __init__(self, request: bytes, ready: asyncio.Future[bool]) -> None:
        super().__init__(request, ready)
        self.buf = bytearray()
        self.epoch: str | None = None
        self.last: int | None = None
        self.lost = 0
        self.dupes = 0
        self.types: Counter[str] = Counter()

    def on_data(self, data: bytes) -> None:
        now = time.time_ns()
        self.nbytes += len(data)
        buf = self.buf
        buf += data
        i, end = 0, len(buf)
        while end - i >= 2:
            b0, length = buf[i], buf[i + 1] & 0x7F
            h = 2 if length < 126 else (4 if length == 126 else 10)
            if end - i < h:
                break
            if h > 2:
                length = int.from_bytes(buf[i + 2 : i + h], "big")
            if end - i < h + length:
                break
            payload = bytes(buf[i + h : i + h + length])
            i += h + length
            op = b0 & 0x0F
            if op == 0x1:
                self.frames += 1
                self.on_events(json.loads(payload), now)
                if not self.ready.done():
                    self.ready.set_result(True)
            elif op >= 8:
                self.control(op, payload)
        del buf[:i]

    def on_events(self, events: list[dict[str, Any]], now: int) -> None:
        self.events += len(events)
        for ev in events:
            type_ = ev["type"]
            self.types[type_] += 1
            offset = ev.get("offset")
            if offset is not None:
                if ev["epoch"] != self.epoch or self.last is None:
                    self.epoch, self.last = ev["epoch"], offset
                elif offset == self.last + 1:
                    self.last = offset
                elif offset > self.last:
                    self.lost += offset - self.last - 1
                    self.last = offset
                else:
                    self.dupes += 1
            if type_ == "chat.message":
                text = ev["data"]["text"]
                if text.startswith("bench "):
                    sent = int(text.split(" ", 2)[1])
                    if Window.start_ns <= sent < Window.end_ns:
                        Window.latencies_ms.append((now - sent) / 1e6)


class Sender(Probe):
    """A chat and like sender (not counted as a viewer): counts acks and refusals."""

    kind = "sender"

    def __init__(self, request: bytes, ready: asyncio.Future[bool]) -> None:
        super().__init__(request, ready)
        self.acks = 0
        self.answered = 0  # chat messages acked or refused
        self.errors: Counter[str] = Counter()

    def on_events(self, events: list[dict[str, Any]], now: int) -> None:
        for ev in events:
            ref = ev["data"].get("ref") or "" if ev["type"] in ("ack", "error") else ""
            if ref.startswith("t"):
                self.answered += 1
            if ev["type"] == "ack":
                self.acks += 1
                if ref.startswith("t"):
                    sent = int(ref[1:])
                    if Window.start_ns <= sent < Window.end_ns:
                        Window.acks_ms.append((now - sent) / 1e6)
            elif ev["type"] == "error":
                self.errors[ev["data"]["code"]] += 1
