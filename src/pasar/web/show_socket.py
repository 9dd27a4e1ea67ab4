"""``/ws/shows/{show_id}``: one viewer's (or staff member's) socket.

This module is the handshake: who is connecting (credentials, origin, bans)
and what they get first (a snapshot, or the history they missed). What they
send after that, frames and commands within the socket's limits, is
``show_session``'s. Fan-out of show
events is the hub's job (``pasar.realtime``); what a command changes, and
when viewers hear of it, is engagement's (``pasar.engagement.actions``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from pasar.engagement import identity as ids
from pasar.engagement.standing import ShowStanding
from pasar.netaddr import client_key
from pasar.realtime.broker import HistoryGap, Position, dumps, envelope
from pasar.realtime.events import (
    AUTH_COMMAND,
    Auth,
)
from pasar.realtime.hub import Conn
from pasar.realtime.wire import RAW_EXTENSION
from pasar.services import Services
from pasar.vendors import origins
from pasar.vendors import service as vendors
from pasar.vendors.errors import VendorError
from pasar.web.show_session import (
    CLOSE_ABUSE,
    CLOSE_FORBIDDEN,
    CLOSE_NOT_FOUND,
    CLOSE_POLICY,
    CLOSE_TRY_LATER,
    CLOSED,
    Session,
    command_loop,
    on_frame,
    parse_frame,
)
from pasar.web.show_snapshot import Shared, ShowFacts, Snapshots

SOCKET_PREFIX = "/ws/shows/"
# Query parameters that once carried tokens (`?guest=`, `?token=`): refused.
CREDENTIALS_IN_URL = frozenset({"guest", "token", "shopper"})
# The client's first frame (its credentials) must arrive within this: a socket
# that says nothing holds a slot for no one.
AUTH_TIMEOUT_S = 10.0


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
            session.resume = raw["detach"](lambda message: on_frame(session, message))
            detached = True
            return True
        await command_loop(session)
    except WebSocketDisconnect:
        pass
    finally:
        if not detached:
            await realtime.hub.leave(conn)
    return False


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
    if parsed is CLOSED:
        return None
    try:
        return AUTH_COMMAND.validate_python(parsed)
    except ValidationError:
        await ws.close(CLOSE_POLICY, 'the first frame must be {"type": "auth", …}')
        return None


async def _receive_json(ws: WebSocket, limit: int) -> Any:
    """The next frame, parsed; ``CLOSED`` when it was unacceptable and the
    socket has been closed with the reason."""
    return await parse_frame(ws, await ws.receive(), limit)
