"""Server → client WebSocket frames, encoded once per tick and written as-is to
every socket of a show.

Why: building a frame per connection through the ASGI ``websocket.send`` path
costs far more than writing the same bytes to many transports (the issue's
calibration: ~550 ms p99 through per-connection sends vs ~280 ms for shared
frames at 10,000 viewers). Server frames are unmasked, so one encoding is valid
for every connection.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from uvicorn.protocols.utils import ClientDisconnected
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

RAW_EXTENSION = "pasar.raw_frames"


def text_frame(payload: bytes) -> bytes:
    """A final, unmasked text frame (RFC 6455 §5.2) carrying ``payload``."""
    n = len(payload)
    if n < 126:
        header = bytes((0x81, n))
    elif n < 1 << 16:
        header = bytes((0x81, 126)) + n.to_bytes(2, "big")
    else:
        header = bytes((0x81, 127)) + n.to_bytes(8, "big")
    return header + payload


class RawWriter(Protocol):
    def write(self, frame: bytes) -> bool: ...

    def buffered(self) -> int: ...

    def abort(self) -> None: ...


class _TransportWriter:
    """Writes pre-encoded frames straight to the connection's transport.

    The hub calls ``buffered`` and ``write`` for every socket on every tick, so
    they stay lean: ``buffered`` and ``abort`` are the transport's own bound
    methods (no Python frame per call)."""

    __slots__ = ("_proto", "_transport", "abort", "buffered")

    def __init__(self, proto: WebSocketsSansIOProtocol) -> None:
        transport = proto.transport
        self._proto = proto
        self._transport = transport
        self.buffered: Callable[[], int] = transport.get_write_buffer_size
        self.abort: Callable[[], None] = transport.abort

    def write(self, frame: bytes) -> bool:
        p, t = self._proto, self._transport
        if p.close_sent or not p.handshake_complete or t.is_closing():
            return False
        t.write(frame)
        return True


# What a detached socket's handler receives: the ASGI receive events
# (``websocket.receive`` with ``text`` or ``bytes``; ``websocket.disconnect``).
Handler = Callable[[dict[str, Any]], None]


class _Forward:
    """Stands in for the protocol's ``asyncio.Queue`` once the socket is detached:
    uvicorn's own paths that report a disconnect (``put_nowait``) reach the handler."""

    __slots__ = ("handler",)

    def __init__(self, handler: Handler) -> None:
        self.handler = handler

    def put_nowait(self, message: dict[str, Any]) -> None:
        self.handler(message)

    def empty(self) -> bool:
        return True


class PasarWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O WebSocket protocol plus an ASGI extension with two tools:

    - ``writer``: the hub writes shared frames without a per-connection
      ``websocket.send``;
    - ``detach(handler)``: the app hands the connection over to callbacks and
      returns. An idle viewer then costs no task and no coroutine stack (the
      ASGI call with its middleware frames, parked in ``receive()``, was most of
      a connection's memory): each frame and the disconnect are passed to
      ``handler`` as they arrive, reading pauses after each frame (as it does
      until an ASGI app calls ``receive``) and ``detach`` returns the function
      that resumes it.
    """

    _handler: Handler | None = None

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        if scope is not None:
            scope["extensions"][RAW_EXTENSION] = {
                "writer": _TransportWriter(self),
                "detach": self._detach,
            }

    def _detach(self, handler: Handler) -> Callable[[], None]:
        queued: Any = self.queue
        self._handler = handler
        self.queue = _Forward(handler)  # type: ignore[assignment]
        # The handshake's request and response are not needed any more.
        self.request = self.response = None  # type: ignore[assignment]
        while not queued.empty():  # frames that arrived before the app detached
            handler(queued.get_nowait())
        return self._resume

    def _resume(self) -> None:
        if self.read_paused and not self.transport.is_closing():
            self.read_paused = False
            self.transport.resume_reading()

    def send_receive_event_to_app(self) -> None:
        handler = self._handler
        if handler is None:
            super().send_receive_event_to_app()
            return
        data = self.frames[0] if len(self.frames) == 1 else b"".join(self.frames)
        self.frames = []
        if self.close_sent:
            return
        message: dict[str, Any]
        if self.curr_msg_data_type == "text":
            try:
                message = {"type": "websocket.receive", "text": data.decode()}
            except UnicodeDecodeError:
                self.conn.send_close(1007)
                self.handle_parser_exception()
                return
        else:
            message = {"type": "websocket.receive", "bytes": data}
        self.read_paused = True
        self.transport.pause_reading()
        handler(message)

    async def run_asgi(self) -> None:
        # uvicorn's run_asgi, except that a detached socket stays open when the
        # app returns (uvicorn closes the transport then).
        try:
            result = await self.app(self.scope, self.receive, self.send)
        except ClientDisconnected:
            pass
        except BaseException:
            self.logger.exception("Exception in ASGI application\n")
            self.send_500_response()
        else:
            if not self.handshake_complete:
                self.logger.error("ASGI callable returned without completing handshake.")
                self.send_500_response()
            elif result is not None:
                self.logger.error("ASGI callable should return None, but returned '%s'.", result)
        if self.close_timer is None and self._handler is None:
            self.transport.close()
