"""The protocol tests' WebSocket client.

Every frame the server sends is parsed (a JSON array of envelopes), every event
is validated with ``validate_server_event`` and its type recorded in
``SEEN_EVENT_TYPES`` (``test_zz_schema_coverage.py`` checks that every schema was
emitted). Every client also checks the history it receives: after a snapshot
or a resume position, each numbered event must carry the same epoch and the
next offset, so any gap or repeat in any test fails that test.

Nothing here measures time: waits are for conditions, with generous timeouts.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import socket
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from pasar.realtime.events import SERVER_EVENTS, validate_server_event

# Long enough for a loaded CI machine; tests never assert how fast anything is.
TIMEOUT = 30.0

SEEN_EVENT_TYPES: set[str] = set()
# Realtime tests this run collected but deselected (-k, --lf …): coverage is partial.
DESELECTED: list[str] = []
# Realtime tests this process has finished (under xdist a worker runs only some).
FINISHED: set[str] = set()

Event = dict[str, Any]
Where = Callable[[Event], bool]

_addresses = itertools.count(1)


def next_ip() -> str:
    """A loopback address no other client of this run has used (127.10.0.1 …)."""
    n = next(_addresses)
    return f"127.{10 + n // 64_000}.{(n // 250) % 256}.{1 + n % 250}"


def auth_frame(guest: str | None = None, shopper: str | None = None) -> dict[str, Any]:
    """The first frame every client sends: who it is (nothing: a new guest)."""
    frame: dict[str, Any] = {"type": "auth"}
    if guest:
        frame["guest"] = guest
    if shopper:
        frame["shopper"] = shopper
    return frame


def is_history(event: Event) -> bool:
    return SERVER_EVENTS[event["type"]][1] == "history"


class Viewer:
    """One WebSocket connection to a show, reading in the background."""

    def __init__(self, ws: ClientConnection, ip: str, since: str | None) -> None:
        self.ws = ws
        self.ip = ip
        self.events: list[Event] = []
        self.frames: list[list[Event]] = []
        self.problems: list[str] = []
        self.close_code: int | None = None
        self.close_reason = ""
        self.position: tuple[str, int] | None = None
        if since and since.count(":") == 1 and since.split(":")[1].isdigit():
            epoch, offset = since.split(":")
            self.position = (epoch, int(offset))
        self._cursor = 0
        self._changed = asyncio.Event()
        self._closed = asyncio.Event()
        self._refs = itertools.count(1)
        self._task = asyncio.create_task(self._read())

    # -- reading --------------------------------------------------------------

    async def _read(self) -> None:
        try:
            async for frame in self.ws:
                self._take(frame)
                self._changed.set()
        except ConnectionClosed:
            pass
        finally:
            self.close_code = self.ws.close_code
            self.close_reason = self.ws.close_reason or ""
            self._closed.set()
            self._changed.set()

    def _take(self, frame: str | bytes) -> None:
        if isinstance(frame, bytes):
            self.problems.append(f"binary frame from the server: {frame[:80]!r}")
            return
        try:
            parsed = json.loads(frame)
        except ValueError:
            self.problems.append(f"a frame that is not JSON: {frame[:80]!r}")
            return
        if not isinstance(parsed, list) or not parsed:
            self.problems.append(f"a frame that is not a non-empty array: {frame[:80]!r}")
            return
        self.frames.append(parsed)
        for event in parsed:
            try:
                validate_server_event(event)
            except Exception as exc:
                self.problems.append(f"invalid event {event!r}: {exc}")
                continue
            SEEN_EVENT_TYPES.add(event["type"])
            self._check_order(event)
            self.events.append(event)

    def _check_order(self, event: Event) -> None:
        if event["type"] == "reset":
            self.position = None
        elif event["type"] == "snapshot":
            self.position = (event["epoch"], event["offset"])
        elif is_history(event):
            here = (event["epoch"], event["offset"])
            if self.position is None:
                self.problems.append(f"{event['type']} at {here} before any snapshot")
            elif here != (self.position[0], self.position[1] + 1):
                self.problems.append(f"{event['type']} at {here} after {self.position}")
            self.position = here

    # -- waiting ----------------------------------------------------------------

    async def _until(self, check: Callable[[], Any], what: str, within: float) -> Any:
        async def loop() -> Any:
            while True:
                self._changed.clear()
                found = check()
                if found is not None:
                    return found
                if self._closed.is_set():
                    raise AssertionError(
                        f"closed ({self.close_code} {self.close_reason!r}) while waiting for "
                        f"{what}; got {[e['type'] for e in self.events]}"
                    )
                await self._changed.wait()

        try:
            return await asyncio.wait_for(loop(), within)
        except TimeoutError:
            raise AssertionError(
                f"no {what} within {within} s; got {[e['type'] for e in self.events][-40:]}"
            ) from None

    async def next(
        self, type_: str | None = None, where: Where | None = None, within: float = TIMEOUT
    ) -> Event:
        """The first event after the last one ``next`` returned that has this type and
        matches ``where`` (events in between are skipped, but stay in ``events``)."""

        def check() -> Event | None:
            for i in range(self._cursor, len(self.events)):
                e = self.events[i]
                if (type_ is None or e["type"] == type_) and (where is None or where(e)):
                    self._cursor = i + 1
                    return e
            return None

        found: Event = await self._until(check, type_ or "an event", within)
        return found

    async def wait_for(
        self, type_: str, where: Where | None = None, within: float = TIMEOUT
    ) -> Event:
        """Any event so far or to come of this type matching ``where``; the cursor stays."""

        def check() -> Event | None:
            for e in reversed(self.events):
                if e["type"] == type_ and (where is None or where(e)):
                    return e
            return None

        found: Event = await self._until(check, type_, within)
        return found

    async def count(self, type_: str, value: int, within: float = TIMEOUT) -> Event:
        """Wait until the latest ``type_`` (a count event) says ``value``."""

        def check() -> Event | None:
            latest = [e for e in self.events if e["type"] == type_]
            if latest and latest[-1]["data"]["count"] == value:
                return latest[-1]
            return None

        found: Event = await self._until(check, f"{type_} = {value}", within)
        return found

    async def until(self, check: Callable[[], Any], what: str, within: float = TIMEOUT) -> Any:
        """Wait until ``check()`` returns something other than None (re-checked on
        every frame)."""
        return await self._until(check, what, within)

    def knows(self, text: str) -> bool:
        """Whether this client has the chat message ``text``, live or from its snapshot."""
        snapshots = self.seen("snapshot")
        in_snapshot = bool(snapshots) and any(
            m["text"] == text for m in snapshots[-1]["data"]["chat"]
        )
        return in_snapshot or text in self.texts()

    async def messages(self, n: int, within: float = TIMEOUT) -> list[str]:
        """Wait until this client has received at least ``n`` chat messages; their texts."""
        texts: list[str] = await self._until(
            lambda: self.texts() if len(self.texts()) >= n else None, f"{n} messages", within
        )
        return texts

    async def learns(self, text: str, within: float = TIMEOUT) -> None:
        """Wait until this client has ``text``, live or in its snapshot."""
        await self._until(lambda: self.knows(text) or None, repr(text), within)

    async def answered(self, within: float = TIMEOUT) -> bool:
        """Wait for the server's first frame or its close; whether it sent events."""
        answer = lambda: bool(self.events) or not self.is_open or None  # noqa: E731
        await self._until(answer, "an answer", within)
        return bool(self.events)

    async def chat_message(self, text: str, within: float = TIMEOUT) -> Event:
        return await self.wait_for("chat.message", lambda e: e["data"]["text"] == text, within)

    async def closed(self, within: float = TIMEOUT) -> int | None:
        """Wait for the server to close the socket; the close code."""
        try:
            await asyncio.wait_for(self._closed.wait(), within)
        except TimeoutError:
            raise AssertionError(
                f"still open after {within} s; got {[e['type'] for e in self.events][-20:]}"
            ) from None
        return self.close_code

    def seen(self, type_: str, where: Where | None = None) -> list[Event]:
        return [e for e in self.events if e["type"] == type_ and (where is None or where(e))]

    def history(self) -> list[Event]:
        return [e for e in self.events if is_history(e)]

    def texts(self) -> list[str]:
        return [e["data"]["text"] for e in self.seen("chat.message")]

    @property
    def is_open(self) -> bool:
        return not self._closed.is_set()

    # -- sending ------------------------------------------------------------------

    async def send(self, payload: Any) -> None:
        await self.ws.send(
            payload if isinstance(payload, str | bytes) else json.dumps(payload, ensure_ascii=False)
        )

    async def command(self, body: dict[str, Any], within: float = TIMEOUT) -> Event:
        """Send one command with a fresh ``ref``; its ``ack`` or ``error``."""
        ref = f"r{next(self._refs)}-{uuid.uuid4().hex[:6]}"
        await self.send({**body, "ref": ref})

        def check() -> Event | None:
            for e in self.events:
                if e["type"] in ("ack", "error") and e["data"].get("ref") == ref:
                    return e
            return None

        found: Event = await self._until(check, f"the answer to {body}", within)
        return found

    async def chat(self, text: str) -> Event:
        return await self.command({"type": "chat.send", "text": text})

    async def ok(self, body: dict[str, Any]) -> Event:
        answer = await self.command(body)
        assert answer["type"] == "ack" and answer["data"]["status"] == "ok", answer
        return answer

    async def say(self, text: str) -> str:
        """Chat ``text``; it must be accepted. The message id."""
        ack = await self.ok({"type": "chat.send", "text": text})
        message_id: str = ack["data"]["id"]
        return message_id

    async def ping(self) -> None:
        """A round trip: every frame the server sent before the pong has been read."""
        pongs = len(self.seen("pong"))
        await self.send({"type": "ping"})
        await self._until(lambda: len(self.seen("pong")) > pongs or None, "pong", TIMEOUT)

    async def aclose(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(), 10)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task

    def drop(self) -> None:
        """Lose the connection without a closing handshake (a phone going offline)."""
        transport = self.ws.transport
        transport.abort()


class Clients:
    """The clients a test opened: closed at teardown, and checked."""

    def __init__(self) -> None:
        self.viewers: list[Viewer] = []

    async def connect(
        self,
        url: str,
        show_id: str,
        *,
        since: str | None = None,
        guest: str | None = None,
        token: str | None = None,
        origin: str | None = None,
        cookie: str | None = None,
        ip: str | None = None,
        query: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        auth: dict[str, Any] | None = None,
        send_auth: bool = True,
    ) -> Viewer:
        """Open ``/ws/shows/{show_id}`` on the server at ``url`` (http://…) and send
        the auth frame: ``guest``/``token`` as its credentials, or ``auth`` as is."""
        params = {"since": since} if since else {}
        params |= dict(query or {})
        uri = "ws" + url.removeprefix("http") + f"/ws/shows/{show_id}"
        if params:
            uri += "?" + urlencode(params)
        ip = ip or next_ip()
        headers = dict(headers or {}) | ({"Cookie": f"pasar_session={cookie}"} if cookie else {})
        ws = await connect(
            uri,
            origin=origin,  # type: ignore[arg-type]
            additional_headers=headers or None,
            compression=None,
            max_size=None,
            ping_interval=None,
            open_timeout=TIMEOUT,
            close_timeout=10,
            local_addr=(ip, 0),
        )
        if send_auth:
            frame = auth if auth is not None else auth_frame(guest=guest, shopper=token)
            with contextlib.suppress(ConnectionClosed):  # e.g. refused before reading it
                await ws.send(json.dumps(frame))
        viewer = Viewer(ws, ip, since)
        self.viewers.append(viewer)
        return viewer

    async def aclose(self) -> None:
        await asyncio.gather(*(v.aclose() for v in self.viewers))
        problems = [p for v in self.viewers for p in v.problems]
        assert not problems, "the server sent invalid or out-of-order events:\n" + "\n".join(
            problems[:20]
        )


# -- a raw client that can stop reading ------------------------------------------------


class RawClient:
    """A WebSocket client on a plain socket with a tiny receive buffer: it reads
    the first frame, then stops reading (a slow or stalled consumer)."""

    def __init__(self, url: str, path: str, ip: str) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.bind((ip, 0))
        self.sock.settimeout(TIMEOUT)
        self.sock.connect((host, int(port)))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head
        self.send_text(json.dumps(auth_frame()))

    def send_text(self, text: str) -> None:
        """One masked text frame (client frames must be masked, RFC 6455 §5.3)."""
        payload, mask = text.encode(), os.urandom(4)
        n = len(payload)
        assert n < 126, "small frames only"
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(bytes((0x81, 0x80 | n)) + mask + masked)

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        self.buffer += chunk

    def _need(self, n: int) -> bytes:
        while len(self.buffer) < n:
            self._fill()
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def read_frame(self) -> tuple[int, bytes]:
        """(opcode, payload) of the next frame (server frames are unmasked)."""
        b0, b1 = self._need(2)
        n = b1 & 0x7F
        if n == 126:
            n = int.from_bytes(self._need(2), "big")
        elif n == 127:
            n = int.from_bytes(self._need(8), "big")
        return b0 & 0x0F, self._need(n)

    def first_events(self) -> list[Event]:
        opcode, payload = self.read_frame()
        assert opcode == 1, opcode
        events: list[Event] = json.loads(payload)
        for event in events:
            validate_server_event(event)
            SEEN_EVENT_TYPES.add(event["type"])
        return events

    def read_until_gone(self) -> int:
        """Read everything left until the server ends the connection; bytes read."""
        total = len(self.buffer)
        self.buffer = b""
        while True:
            try:
                chunk = self.sock.recv(1 << 20)
            except ConnectionResetError:
                return total
            if not chunk:
                return total
            total += len(chunk)

    def close(self) -> None:
        self.sock.close()
