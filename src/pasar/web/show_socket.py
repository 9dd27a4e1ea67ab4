"""``/ws/shows/{show_id}``: one viewer's (or staff member's) socket.

The handshake decides who is connecting and what they get first (a snapshot,
or the history they missed); the loop then handles their commands. This is the
transport: frames, origins, credentials and per-socket limits. Fan-out of show
events is the hub's job (``pasar.realtime``); what a command changes, and
when viewers hear of it, is engagement's (``pasar.engagement.actions``).
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
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from pasar.engagement import actions, polls
from pasar.engagement import identity as ids
from pasar.engagement.errors import SlowModeWait
from pasar.engagement.standing import ShowStanding
from pasar.errors import DomainError
from pasar.netaddr import client_key
from pasar.realtime.broker import HistoryGap, Position, dumps, envelope
from pasar.realtime.engine import Realtime
from pasar.realtime.events import (
    AUTH_COMMAND,
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
from pasar.realtime.wire import RAW_EXTENSION
from pasar.services import Services
from pasar.vendors import origins
from pasar.vendors import service as vendors
from pasar.vendors.errors import VendorError
from pasar.web.show_snapshot import Shared, ShowFacts, Snapshots

log = structlog.get_logger()

CLOSE_UNSUPPORTED = 1003
CLOSE_INVALID_JSON = 1007
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_TRY_LATER = 1013
CLOSE_FORBIDDEN = 4003
CLOSE_NOT_FOUND = 4004
CLOSE_ABUSE = 4029
SOCKET_PREFIX = "/ws/shows/"
# Query parameters that once carried tokens (`?guest=`, `?token=`): refused.
CREDENTIALS_IN_URL = frozenset({"guest", "token", "shopper"})
# The client's first frame (its credentials) must arrive within this: a socket
# that says nothing holds a slot for no one.
AUTH_TIMEOUT_S = 10.0
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


def _client_ip(ws: WebSocket) -> str:
    return client_key(ws.client.host if ws.client else None)


async def _identify(
    ws: WebSocket, services: Services, vendor: ShowFacts, auth: Auth
) -> ids.Identity:
    secret = services.server_secret
    cookie = ws.cookies.get("pasar_session")
    if cookie:
        async with services.db.session() as db:
            try:
                principal, _ = await vendors.authenticate_session(
                    db, cookie, services.session_ttl, services.session_max_age
                )
            except VendorError:
                principal = None
            if principal is not None and principal.vendor_id == vendor.vendor_id:
                user = await vendors.get_staff(db, vendor.vendor_id, principal.actor_id)
                return ids.staff(user.id, user.display_name, user.role)
    lifetime = services.settings.guest_token_lifetime_s
    if auth.shopper:
        return ids.shopper_from_jwt(
            services.box.open(vendor.shopper_secret_encrypted), auth.shopper
        )
    if auth.guest:
        return ids.guest_from_token(secret, auth.guest, lifetime)
    return ids.new_guest(secret, lifetime)


def _origin_allowed(
    ws: WebSocket, services: Services, vendor: ShowFacts, who: ids.Identity
) -> bool:
    origin = ws.headers.get("origin")
    public = services.settings.resolved_public_url
    if origin is None:
        # Not a browser: no ambient credentials to abuse, unless it claims a cookie.
        return not who.is_staff
    if who.is_staff:  # cookies are ambient: only the studio's own origin
        return origins.page_allowed(origin, public, frozenset())
    return origins.page_allowed(origin, public, origins.allowed_set(vendor.allowed_origins))


class ShowSockets:
    """Serves ``/ws/shows/{show_id}`` ahead of the middleware stack and the router.

    None of them does anything for this socket (metrics, CORS and body limits are
    HTTP's; the socket checks origins and credentials itself), yet each kept a
    coroutine frame, and FastAPI's routing its scope copies and dependency state,
    for as long as the viewer watched: most of an idle viewer's memory."""

    def __init__(self, app: ASGIApp, services: Services) -> None:
        self.app = app
        self.services = services
        self.snapshots = Snapshots(services)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            path: str = scope["path"]
            show_id = path[len(SOCKET_PREFIX) :]
            if path.startswith(SOCKET_PREFIX) and show_id and "/" not in show_id:
                ws = WebSocket(scope, receive, send)
                await serve(ws, show_id, self.services, self.snapshots)
                return
        await self.app(scope, receive, send)


async def serve(ws: WebSocket, show_id: str, services: Services, snapshots: Snapshots) -> None:
    realtime = services.realtime
    await realtime.hub.joins.enter()  # in the time the ticks leave (join_gate)
    await ws.accept()
    if realtime.hub.full():
        await ws.close(CLOSE_TRY_LATER, "this node is full; try again shortly")
        return
    ip = _client_ip(ws)
    if not realtime.ip_sockets.acquire(ip):
        await ws.close(CLOSE_ABUSE, "too many connections from your address")
        return
    detached = False
    try:
        detached = await _serve(ws, show_id, services, snapshots, ip)
    finally:
        if not detached:  # a detached socket releases it when it ends (_end)
            realtime.ip_sockets.release(ip)


async def _serve(
    ws: WebSocket, show_id: str, services: Services, snapshots: Snapshots, ip: str
) -> bool:
    """Serve the socket; True when it was detached (it lives on in callbacks)."""
    realtime = services.realtime
    vendor = await snapshots.show(show_id)
    if vendor is None:
        await ws.close(CLOSE_NOT_FOUND, "no such show")
        return False
    if CREDENTIALS_IN_URL & ws.query_params.keys():
        # Refused rather than ignored, so a client still putting tokens in URLs
        # (which end up in logs) is noticed; the log lines themselves drop the
        # query (pasar.logging).
        await ws.close(CLOSE_POLICY, "send credentials in the auth frame, never in the URL")
        return False
    try:
        auth = await _read_auth(ws, services.settings.ws_max_message_bytes)
    except WebSocketDisconnect:
        return False
    if auth is None:
        return False
    try:
        who = await _identify(ws, services, vendor, auth)
    except ids.IdentityError as exc:
        await ws.close(CLOSE_FORBIDDEN, str(exc)[:120])
        return False
    if not _origin_allowed(ws, services, vendor, who):
        await ws.close(CLOSE_FORBIDDEN, "this page's origin may not embed the show")
        return False
    standing = await services.chat.standings.one(vendor.vendor_id, show_id, share_read=True)
    if not who.is_staff and standing.sanction_for(who.id, ip, bans_only=True) is not None:
        await ws.close(CLOSE_FORBIDDEN, "you are banned from this show")
        return False

    session = Session(ws, services, snapshots, realtime, vendor.vendor_id, show_id, who, ip)
    # The socket lives for hours: keep nothing it does not need.
    del vendor
    raw = ws.scope.get("extensions", {}).get(RAW_EXTENSION)
    conn = Conn(
        show_id, who.id, ip, session.send_payload, session.close, raw["writer"] if raw else None
    )
    session.conn = conn
    await realtime.hub.join(conn)
    detached = False
    try:
        position = await _first_frames(session, ws.query_params.get("since"), standing)
        await realtime.hub.finish_join(conn, position)
        if raw is not None and "detach" in raw:
            # From here on the protocol calls us per frame: no task, no
            # coroutine waits for an idle viewer's next command.
            session.resume = raw["detach"](lambda message: _on_frame(session, message))
            detached = True
            return True
        await _command_loop(session)
    except WebSocketDisconnect:
        pass
    finally:
        if not detached:
            await realtime.hub.leave(conn)
    return False


def _on_frame(session: Session, message: dict[str, Any]) -> None:
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


async def _first_frames(
    session: Session, since_text: str | None, standing: ShowStanding
) -> Position:
    reset: bytes | None = None
    if since_text:
        try:
            since = Position.parse(since_text)
            events = await session.snapshots.history(session.show_id, since)
        except (ValueError, HistoryGap) as exc:
            reason = exc.reason if isinstance(exc, HistoryGap) else "bad_position"
            reset = envelope("reset", dumps({"reason": reason}))
        else:
            # Resumed: exactly the missed events, nothing else.
            if events:
                await session.send([env for _, env in events])
            return Position(since.epoch, events[-1][0] if events else since.offset)
    shared, missed = await session.snapshots.as_of(session.vendor_id, session.show_id)
    snapshot = await _snapshot(session, standing, shared)
    await session.send([e for e in (reset, snapshot) if e is not None] + [e for _, e in missed])
    return Position(shared.position.epoch, missed[-1][0] if missed else shared.position.offset)


async def _snapshot(session: Session, standing: ShowStanding, shared: Shared) -> bytes:
    """The shared part, with what is the joiner's own or changes without an event."""
    rt, show_id = session.realtime, session.show_id
    likes, viewers = await rt.hub.counts(show_id)
    who = session.who
    data = {
        "show_id": show_id,
        "me": {"id": who.id, "name": who.name, "role": who.role, "guest_token": who.guest_token},
        **shared.data,
        "viewers": viewers,
        "likes": likes,
        "slow_mode_seconds": standing.slow_mode_seconds,
    }
    position = shared.position
    return envelope("snapshot", dumps(data), position.epoch, position.offset)


async def _read_auth(ws: WebSocket, limit: int) -> Auth | None:
    """The client's first frame, which must be ``{"type": "auth", …}``; None
    when it is not (the socket is then closed with the reason)."""
    try:
        async with asyncio.timeout(AUTH_TIMEOUT_S):
            parsed = await _receive_json(ws, limit)
    except TimeoutError:
        await ws.close(CLOSE_POLICY, f'send {{"type": "auth"}} first, within {AUTH_TIMEOUT_S:g} s')
        return None
    if parsed is _CLOSED:
        return None
    try:
        return AUTH_COMMAND.validate_python(parsed)
    except ValidationError:
        await ws.close(CLOSE_POLICY, 'the first frame must be {"type": "auth", …}')
        return None


_CLOSED = object()


async def _receive_json(ws: WebSocket, limit: int) -> Any:
    """The next frame, parsed; ``_CLOSED`` when it was unacceptable and the
    socket has been closed with the reason."""
    return await _parse_frame(ws, await ws.receive(), limit)


async def _parse_frame(ws: WebSocket, message: Mapping[str, Any], limit: int) -> Any:
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    text = message.get("text")
    if text is None:
        await ws.close(CLOSE_UNSUPPORTED, "send JSON text frames")
        return _CLOSED
    if len(text) > limit:
        await ws.close(CLOSE_TOO_BIG, f"frames are limited to {limit} bytes")
        return _CLOSED
    if too_deep(text):
        await ws.close(CLOSE_INVALID_JSON, f"frames nest at most {MAX_FRAME_DEPTH} deep")
        return _CLOSED
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        await ws.close(CLOSE_INVALID_JSON, "frames must be JSON")
        return _CLOSED


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


async def _command_loop(session: Session) -> None:
    """Commands until the socket ends (a server without ``detach``)."""
    limit = session.services.settings.ws_max_message_bytes
    while await _run_frame(session, await session.ws.receive(), limit):
        pass


async def _run_frame(session: Session, message: Mapping[str, Any], limit: int) -> bool:
    """Parse and run one frame's commands; False once the socket was closed."""
    ws = session.ws
    parsed = await _parse_frame(ws, message, limit)
    if parsed is _CLOSED:
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
