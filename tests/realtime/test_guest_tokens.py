"""Guest tokens (``X-Pasar-Guest``, the show socket's ``auth`` frame): signed,
expiring and renewed, refused cleanly when forged, expired or malformed, and never
carried in a URL (URLs end up in logs)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import jwt
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from pasar.engagement.identity import (
    GuestTokenExpired,
    IdentityError,
    guest_from_token,
    guest_token_expiry,
    new_guest,
)
from pasar.web import show_socket
from tests.conftest import VendorCtx
from tests.realtime.client import Clients, next_ip
from tests.realtime.conftest import LiveServer, ShowCtx, seed_show, viewer

SECRET = "a-server-secret-of-some-length-0000"
CLIENT_SIDE = ("websockets.client", "httpx", "httpcore")
DAY = 86_400

NON_ASCII = [
    "g1.abcdefghij.é" + "A" * 23,
    "g2.abcdefghij.9999999999.é" + "A" * 23,
    "g2.abcdéfghij.9999999999.AAAAAAAAAAAAAAAAAAAAAAAA",
    "g2.abcdefghij.९९९९९९९९९९.AAAAAAAAAAAAAAAAAAAAAAAA",  # digits, but not ASCII ones
    "g2.☃☃☃☃☃☃☃☃.1.☃",
]


# -- the tokens themselves ---------------------------------------------------------------


@pytest.mark.parametrize("token", NON_ASCII)
def test_non_ascii_guest_tokens_are_refused_not_crashed(token: str) -> None:
    with pytest.raises(IdentityError):
        guest_from_token(SECRET, token)


def test_a_token_names_the_same_guest_and_is_renewed_on_use() -> None:
    who = new_guest(SECRET, 30 * DAY, now=1_000_000)
    assert who.guest_token is not None
    assert guest_token_expiry(who.guest_token).timestamp() == 1_000_000 + 30 * DAY
    later = guest_from_token(SECRET, who.guest_token, 30 * DAY, now=1_000_000 + 29 * DAY)
    assert (later.id, later.name) == (who.id, who.name)
    assert later.guest_token is not None
    assert guest_token_expiry(later.guest_token).timestamp() == 1_000_000 + 59 * DAY
    # The renewed token works after the first one has expired; the first does not.
    at = 1_000_000 + 31 * DAY
    assert guest_from_token(SECRET, later.guest_token, 30 * DAY, now=at).id == who.id
    with pytest.raises(GuestTokenExpired, match="expired"):
        guest_from_token(SECRET, who.guest_token, 30 * DAY, now=at)


def old_token(secret: str, gid: str = "abcdefghijklmnop") -> str:
    """A genuine token of the first format, ``g1.<id>.<sig>``, which had no expiry."""
    mac = hmac.new(secret.encode(), b"pasar-guest:" + gid.encode(), hashlib.sha256)
    return f"g1.{gid}.{base64.urlsafe_b64encode(mac.digest()[:18]).decode()}"


def test_old_tokens_without_an_expiry_are_refused() -> None:
    """``g1`` tokens never expired: they are refused, with a clear message, even
    when genuinely signed (accepting them would keep leaked ones alive); a forged
    one is just a bad token."""
    with pytest.raises(GuestTokenExpired, match="no longer accepted"):
        guest_from_token(SECRET, old_token(SECRET))
    with pytest.raises(IdentityError) as forged:
        guest_from_token(SECRET, old_token("another secret"))
    assert not isinstance(forged.value, GuestTokenExpired)


# -- the storefront's X-Pasar-Guest ----------------------------------------------------------


def _cart(vendor: VendorCtx) -> str:
    return f"/api/v1/storefront/vendors/{vendor.slug}/cart"


@pytest.mark.parametrize("token", NON_ASCII)
async def test_a_non_ascii_guest_header_is_a_401(
    client: httpx.AsyncClient, vendor: VendorCtx, token: str
) -> None:
    r = await client.get(_cart(vendor), headers={"X-Pasar-Guest": token.encode()})  # type: ignore[dict-item]
    assert r.status_code == 401, r.text
    assert r.json()["error"]["code"] in ("bad_shopper_token", "guest_token_expired")


async def test_guests_are_minted_renewed_and_expire(
    client: httpx.AsyncClient, vendor: VendorCtx, app: object
) -> None:
    r = await client.post("/api/v1/storefront/guests")
    assert r.status_code == 201, r.text
    first = r.json()
    assert guest_token_expiry(first["guest_token"]).isoformat() == first["expires_at"]
    days = (guest_token_expiry(first["guest_token"]).timestamp() - time.time()) / DAY
    assert 29.9 < days <= 30

    # Renewal: the same guest, a fresh token.
    r = await client.post(
        "/api/v1/storefront/guests", headers={"X-Pasar-Guest": first["guest_token"]}
    )
    assert r.status_code == 200, r.text
    renewed = r.json()
    assert (renewed["id"], renewed["name"]) == (first["id"], first["name"])
    r = await client.get(_cart(vendor), headers={"X-Pasar-Guest": renewed["guest_token"]})
    assert r.status_code == 200, r.text

    # An expired token is a clear 401, on every route that takes one.
    secret = app.state.services.server_secret  # type: ignore[attr-defined]
    old = new_guest(secret, DAY, now=time.time() - 2 * DAY).guest_token
    assert old is not None
    for token, says in ((old, "expired"), (old_token(secret), "no longer accepted")):
        for method, path in (("GET", _cart(vendor)), ("POST", "/api/v1/storefront/guests")):
            r = await client.request(method, path, headers={"X-Pasar-Guest": token})
            assert r.status_code == 401, r.text
            error = r.json()["error"]
            assert error["code"] == "guest_token_expired" and says in error["message"]


# -- the show socket -------------------------------------------------------------------------


@pytest.fixture
async def lshow(sqlite_server: LiveServer) -> AsyncIterator[ShowCtx]:
    async with httpx.AsyncClient(base_url=sqlite_server.url, timeout=60) as http:
        yield await seed_show(sqlite_server, http, live_state=True)


async def test_the_snapshot_hands_back_a_renewed_token(lshow: ShowCtx, clients: Clients) -> None:
    secret = lshow.server.app.state.services.server_secret
    old = new_guest(secret, DAY, now=time.time() - DAY / 2)  # half a day left
    assert old.guest_token is not None
    v = await viewer(clients, lshow, guest=old.guest_token)
    me = v.events[0]["data"]["me"]
    assert me["id"] == old.id
    assert guest_token_expiry(me["guest_token"]) > guest_token_expiry(old.guest_token)


@pytest.mark.parametrize("kind", ["expired", "retired"])
async def test_an_expired_guest_token_is_refused_on_the_socket(
    lshow: ShowCtx, clients: Clients, kind: str
) -> None:
    secret = lshow.server.app.state.services.server_secret
    if kind == "expired":
        token = new_guest(secret, DAY, now=time.time() - 2 * DAY).guest_token
    else:
        token = old_token(secret)
    v = await clients.connect(lshow.server.url, lshow.show_id, guest=token)
    assert await v.closed() == 4003
    assert "expired" in v.close_reason or "no longer accepted" in v.close_reason
    assert not v.events


async def test_credentials_in_the_url_are_refused(lshow: ShowCtx, clients: Clients) -> None:
    me = (await viewer(clients, lshow)).events[0]["data"]["me"]
    for query in ({"guest": me["guest_token"]}, {"token": "a.b.c"}):
        v = await clients.connect(lshow.server.url, lshow.show_id, query=query)
        assert await v.closed() == 1008
        assert "auth frame" in v.close_reason and not v.events


async def test_the_first_frame_must_be_auth(lshow: ShowCtx, clients: Clients) -> None:
    wrong = await clients.connect(
        lshow.server.url, lshow.show_id, auth={"type": "chat.send", "text": "hi"}
    )
    assert await wrong.closed() == 1008 and not wrong.events
    # After it, auth is refused like any out-of-place command; the socket stays.
    v = await viewer(clients, lshow)
    answer = await v.command({"type": "auth", "guest": "g2.x"})
    assert answer["type"] == "error" and answer["data"]["code"] == "already_authenticated"
    assert v.is_open


async def test_a_silent_socket_is_closed(
    lshow: ShowCtx, clients: Clients, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(show_socket, "AUTH_TIMEOUT_S", 0.2)
    v = await clients.connect(lshow.server.url, lshow.show_id, send_auth=False)
    assert await v.closed() == 1008
    assert "auth" in v.close_reason and not v.events


# -- logs ---------------------------------------------------------------------------------


@pytest.fixture
def all_logs() -> Iterator[list[str]]:
    """Every log line any logger emits meanwhile, uvicorn's INFO lines included."""
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if not record.name.startswith(CLIENT_SIDE):  # the test's own clients
                lines.append(self.format(record))

    handler = Keep(level=logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(handler)
    uvicorn_loggers = [logging.getLogger(n) for n in ("uvicorn", "uvicorn.error", "uvicorn.access")]
    levels = [lg.level for lg in uvicorn_loggers]
    for lg in uvicorn_loggers:  # what PASAR_LOG_LEVEL=debug shows, the most there is
        lg.addHandler(handler)
        lg.setLevel(logging.DEBUG)
    try:
        yield lines
    finally:
        root.removeHandler(handler)
        for lg, level in zip(uvicorn_loggers, levels, strict=True):
            lg.removeHandler(handler)
            lg.setLevel(level)


async def test_no_token_reaches_any_log_line(
    lshow: ShowCtx, clients: Clients, all_logs: list[str], capfd: pytest.CaptureFixture[str]
) -> None:
    secret = lshow.server.app.state.services.server_secret
    guest = new_guest(secret).guest_token
    assert guest is not None
    shopper_secret = (await lshow.api("GET", "/api/v1/vendor/shopper-secret"))["secret"]
    shopper = jwt.encode({"sub": "c1", "exp": int(time.time()) + 600}, shopper_secret, "HS256")

    # The ways a client may present a token, good and bad, in frames and in URLs.
    await viewer(clients, lshow, guest=guest)
    await viewer(clients, lshow, token=shopper)
    for query in ({"guest": guest}, {"token": shopper}):
        legacy = await clients.connect(lshow.server.url, lshow.show_id, query=query)
        await legacy.closed()
    url = lshow.server.ws_url + f"/ws/shows/{lshow.show_id}?since=x&guest={guest}"
    async with connect(url, local_addr=(next_ip(), 0)) as ws:
        # The server refuses the URL right after the handshake: the frame may find
        # the socket already closing.
        with contextlib.suppress(ConnectionClosed):
            await ws.send(json.dumps({"type": "auth", "guest": guest}))
        await asyncio.wait_for(ws.wait_closed(), 30)
    r = await lshow.http.get(
        f"/api/v1/storefront/shows/{lshow.show_id}?guest={guest}",
        headers={"X-Pasar-Guest": guest},
    )
    assert r.status_code < 500

    printed = capfd.readouterr()
    text = "\n".join(all_logs) + printed.out
    assert "/ws/shows/" in text, "uvicorn's WebSocket lines were captured"
    assert "[accepted]" in text, "and the socket accepted at INFO"
    # Not the tokens, nor (in the debug lines' elided frames) most of a signature.
    for token in (guest, shopper):
        for secret_part in (token, token.split(".")[-1][-12:]):
            assert secret_part not in text
    assert "[an auth frame" in text, "debug lines say an auth frame came, not what was in it"
