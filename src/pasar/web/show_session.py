"""A joined show socket: its frames and commands, until it ends.

The handshake (``show_socket``) decides who is connecting and sends what they
get first; from then on this module handles what they send: frames parsed and
checked, commands run within the socket's and the address's limits. On a
server that can *detach* a socket (``pasar.realtime.wire``), no task waits for
an idle viewer's next frame: the protocol calls ``on_frame``, and a task runs
only while there are frames to handle.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog
from pydantic import ValidationError
from starlette.websockets import WebSocket, WebSocketDisconnect

from pasar.engagement import actions, polls
from pasar.engagement import identity as ids
from pasar.engagement.errors import SlowModeWait
from pasar.errors import DomainError
from pasar.realtime.broker import dumps, envelope
from pasar.realtime.engine import Realtime
from pasar.realtime.events import (
    CLIENT_COMMANDS,
    STAFF_COMMANDS,
    Auth,
    ChatApprove,
    ChatDelete,
    ChatPin,
    ChatSend,
    Like,
    Ping,
    PollVote,
    UserMute,
)
from pasar.realtime.hub import Conn
from pasar.realtime.limits import (
    CHAT_PER_CONN,
    LIKES_PER_CONN,
    VIOLATIONS,
    VOTES_PER_CONN,
    Bucket,
)
from pasar.services import Services
from pasar.web.show_snapshot import Snapshots

log = structlog.get_logger()

CLOSE_UNSUPPORTED = 1003
CLOSE_INVALID_JSON = 1007
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_TRY_LATER = 1013
CLOSE_FORBIDDEN = 4003
CLOSE_NOT_FOUND = 4004
CLOSE_ABUSE = 4029
# Commands nest three levels (a batch, a command, a value); 32 is generous.
MAX_FRAME_DEPTH = 32


@dataclass(slots=True, eq=False)
class Session:
    """Everything one socket needs between commands."""

    ws: WebSocket
    services: Services
    snapshots: Snapshots
    realtime: Realtime
    vendor_id: str
    show_id: str
    who: ids.Identity
    ip: str
    conn: Conn | None = None
    chat: Bucket = field(init=False)
    likes: Bucket = field(init=False)
    votes: Bucket = field(init=False)
    violations: Bucket = field(init=False)
    # Detached (see ``detach``): frames waiting for the worker task, which runs
    # only while there are some, and what resumes reading once they are done.
    inbox: deque[dict[str, Any]] = field(init=False, default_factory=deque)
    worker: asyncio.Task[None] | None = field(init=False, default=None)
    resume: Callable[[], None] | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.chat = CHAT_PER_CONN.bucket()
        self.likes = LIKES_PER_CONN.bucket()
        self.votes = VOTES_PER_CONN.bucket()
        self.violations = VIOLATIONS.bucket()

    async def send_payload(self, payload: bytes) -> None:
        await self.ws.send_text(payload.decode())

    async def close(self, code: int, reason: str) -> None:
        await self.ws.close(code, reason)

    async def send(self, events: list[bytes]) -> None:
        await self.ws.send_text((b"[" + b",".join(events) + b"]").decode())

    async def direct(self, type_: str, data: dict[str, Any]) -> None:
        await self.send([envelope(type_, dumps(data))])

    async def error(
        self, ref: str | None, code: str, message: str, retry: float | None = None
    ) -> None:
        await self.direct(
            "error",
            {
                "ref": ref,
                "code": code,
                "message": message,
                "retry_after": round(retry, 2) if retry else None,
            },
        )


def on_frame(session: Session, message: dict[str, Any]) -> None:
    """A detached socket's frame or disconnect: queued for the worker task,
    started if none runs (reading stays paused until it is done)."""
    session.inbox.append(message)
    if session.worker is None:
        session.worker = asyncio.ensure_future(_work(session))


async def _work(session: Session) -> None:
    limit = session.services.settings.ws_max_message_bytes
    open_ = True
    try:
        while session.inbox:
            message = session.inbox.popleft()
            if message["type"] == "websocket.disconnect":
                await _end(session)
                return
            if open_:
                open_ = await _run_frame(session, message, limit)
    except Exception:
        log.exception("show socket command failed", show_id=session.show_id)
        await session.ws.close(1011, "internal error")
    finally:
        session.worker = None
    if session.resume is not None:
        session.resume()


async def _end(session: Session) -> None:
    session.inbox.clear()
    session.resume = None
    if session.conn is not None:
        await session.realtime.hub.leave(session.conn)
    session.realtime.ip_sockets.release(session.ip)


CLOSED = object()


async def parse_frame(ws: WebSocket, message: Mapping[str, Any], limit: int) -> Any:
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    text = message.get("text")
    if text is None:
        await ws.close(CLOSE_UNSUPPORTED, "send JSON text frames")
        return CLOSED
    if len(text) > limit:
        await ws.close(CLOSE_TOO_BIG, f"frames are limited to {limit} bytes")
        return CLOSED
    if too_deep(text):
        await ws.close(CLOSE_INVALID_JSON, f"frames nest at most {MAX_FRAME_DEPTH} deep")
        return CLOSED
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        await ws.close(CLOSE_INVALID_JSON, "frames must be JSON")
        return CLOSED


def too_deep(text: str, limit: int = MAX_FRAME_DEPTH) -> bool:
    """Whether the JSON in ``text`` nests arrays/objects deeper than ``limit``.

    Checked before parsing: the C parser recurses per level, and a frame of a
    couple of thousand ``[`` raised RecursionError, which killed the socket's
    handler. Frames with few brackets (every real command) skip the scan."""
    if text.count("[") + text.count("{") <= limit:
        return False
    depth, in_string, escaped = 0, False, False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > limit:
                return True
        elif ch in "]}":
            depth -= 1
    return False


async def command_loop(session: Session) -> None:
    """Commands until the socket ends (a server without ``detach``)."""
    limit = session.services.settings.ws_max_message_bytes
    while await _run_frame(session, await session.ws.receive(), limit):
        pass


async def _run_frame(session: Session, message: Mapping[str, Any], limit: int) -> bool:
    """Parse and run one frame's commands; False once the socket was closed."""
    ws = session.ws
    parsed = await parse_frame(ws, message, limit)
    if parsed is CLOSED:
        return False
    try:
        commands = CLIENT_COMMANDS.validate_python(parsed)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        await ws.close(CLOSE_POLICY, f"invalid command: {where} {first.get('msg', '')}"[:120])
        return False
    for command in commands if isinstance(commands, list) else [commands]:
        if not await _handle(session, command):
            return False
    return True


async def _handle(session: Session, command: Any) -> bool:
    """Run one command; False when the socket was closed."""
    ref = command.ref
    if command.type in STAFF_COMMANDS and not session.who.is_staff:
        await session.error(ref, "forbidden", "only staff can do that")
        return True
    try:
        match command:
            case Ping():
                await session.direct("pong", {})
            case Auth():
                await session.error(
                    ref,
                    "already_authenticated",
                    "auth is only the first frame; reconnect to connect as someone else",
                )
            case Like():
                return await _like(session, command)
            case ChatSend():
                return await _chat(session, command)
            case PollVote():
                await _vote(session, command)
            case ChatDelete() | ChatPin() | ChatApprove() | UserMute():
                await actions.staff_action(
                    session.services.db,
                    session.realtime,
                    session.vendor_id,
                    session.show_id,
                    session.who.id,
                    command,
                    session.services.chat.standings,
                )
                await session.direct("ack", {"ref": ref, "status": "ok", "id": None})
    except DomainError as exc:
        await session.error(ref, exc.code, exc.message)
    return True


async def _limited(session: Session, ref: str | None, wait: float) -> bool:
    """Tell the client to slow down; close the socket if it keeps ignoring that."""
    await session.error(ref, "rate_limited", "slow down", wait)
    if session.violations.take() > 0:
        await session.ws.close(CLOSE_ABUSE, "too many requests")
        return False
    return True


async def _like(session: Session, command: Like) -> bool:
    ip_bucket = session.realtime.ip_limits.likes(session.ip)
    wait = max(session.likes.take(command.count), ip_bucket.take(command.count))
    if wait:
        return await _limited(session, command.ref, wait)
    session.realtime.hub.add_like(session.show_id, command.count)
    return True


async def _chat(session: Session, command: ChatSend) -> bool:
    rt = session.realtime
    if not session.who.is_staff:
        wait = max(session.chat.take(), rt.ip_limits.chat(session.ip).take())
        if wait:
            return await _limited(session, command.ref, wait)
    try:
        posted = await session.services.chat.send(
            session.vendor_id, session.show_id, session.who, session.ip, command.text
        )
    except SlowModeWait as exc:
        await session.error(command.ref, exc.code, exc.message, exc.wait)
        return True
    if posted.status == "visible":
        await session.direct("ack", {"ref": command.ref, "status": "ok", "id": posted.row.id})
    elif posted.status == "held":
        await session.direct("ack", {"ref": command.ref, "status": "held", "id": posted.row.id})
    else:
        await session.error(command.ref, "blocked", "this message breaks the chat rules")
    return True


async def _vote(session: Session, command: PollVote) -> None:
    wait = session.votes.take() or session.realtime.ip_limits.votes(session.ip).take()
    if wait:
        await session.error(command.ref, "rate_limited", "slow down", wait)
        return
    async with session.services.db.session() as db:
        poll = await polls.get_poll(db, session.vendor_id, session.show_id, command.poll_id)
        await polls.vote(db, poll, session.who.id, command.option)
        await db.commit()
    await session.direct("ack", {"ref": command.ref, "status": "ok", "id": command.poll_id})
