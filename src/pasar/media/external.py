"""External media servers: MediaMTX and nginx-rtmp take the publishers and
serve HLS; their callbacks (``/hooks/...``) authorise stream keys here and move
the show along, as the built-in plane does for WHIP.

The secret stream key never appears in a public URL. A publisher presents it
to the media server, the media server asks us, and the stream is stored and
played under the show's id:

* MediaMTX publishes to the path ``live/<show_id>`` with the key as the
  password, a Bearer token (WHIP) or ``?key=`` in the query; the auth hook
  checks that the key belongs to the show the path names.
* nginx-rtmp publishes with the key as the stream name (OBS's "stream key");
  ``on_publish`` answers ``302 Location: <show_id>``, which renames the stream
  to the show id before it is relayed to the application that writes HLS.

Every callback first presents the hook secret (``?secret=`` in the URL the
media server is configured with, or the ``X-Pasar-Hook-Secret`` header):
without it nothing is looked up.

Dropouts: the end of a publish (nginx-rtmp ``on_publish_done``, MediaMTX
``runOnNotReady``) leaves the show live and "reconnecting" for
``publish_grace_seconds``; publishing again continues the show, otherwise it
ends. The grace timers live in this process: point a media server's hooks at
one Pasar node (or keep it sticky).
"""

from __future__ import annotations

import hmac
import json
import logging
import time
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qs, parse_qsl

from pydantic import BaseModel, ConfigDict, ValidationError

from pasar.db.engine import Database
from pasar.ids import id_shaped
from pasar.media.errors import MediaError
from pasar.media.grace import GraceTimers
from pasar.media.lifecycle import ShowLink
from pasar.settings import Settings
from pasar.shows import service as shows
from pasar.shows.lifecycle import ShowLifecycle
from pasar.shows.models import Show
from pasar.shows.states import ShowState
from pasar.vendors.credentials import token_hash

log = logging.getLogger(__name__)

HOOK_SECRET_HEADER = "X-Pasar-Hook-Secret"
MEDIAMTX_PATH_PREFIX = "live/"
MAX_HOOK_BODY_BYTES = 16 * 1024
READ_CACHE_SECONDS = 2.0

MediaServer = Literal["mediamtx", "nginx-rtmp"]
_MAX_NAME = 256  # nginx-rtmp's NGX_RTMP_MAX_NAME


# -- URLs the API hands out ----------------------------------------------------


def playback_url(settings: Settings, show_id: str) -> str | None:
    """The show's public HLS URL on the external media server (None: built-in)."""
    if settings.media_server == "builtin" or not settings.media_server_hls_url:
        return None
    return settings.media_server_hls_url.format(show_id=show_id)


def show_playback_url(settings: Settings, show_id: str) -> str:
    """The show's public HLS URL, wherever it is served."""
    return playback_url(settings, show_id) or (
        f"{settings.resolved_public_url}/hls/{show_id}/index.m3u8"
    )


def rtmp_url(settings: Settings, show_id: str, stream_key: str) -> str | None:
    """The RTMP ingest URL for the studio (only with an external media server)."""
    if settings.media_server == "builtin" or not settings.media_server_rtmp_url:
        return None
    return settings.media_server_rtmp_url.format(show_id=show_id, stream_key=stream_key)


def whip_url(settings: Settings, show_id: str) -> str | None:
    """The external media server's WHIP URL (None: the built-in ``/whip``)."""
    if settings.media_server == "builtin" or not settings.media_server_whip_url:
        return None
    return settings.media_server_whip_url.format(show_id=show_id)


# -- the callbacks' input --------------------------------------------------------


class MediaMTXAuth(BaseModel):
    """MediaMTX's ``authHTTPAddress`` request body (unknown fields are ignored)."""

    model_config = ConfigDict(extra="ignore")

    user: str = ""
    password: str = ""
    token: str = ""
    ip: str = ""
    action: str
    path: str = ""
    protocol: str = ""
    id: str | None = None
    query: str = ""


@dataclass(frozen=True)
class NginxCall:
    """An nginx-rtmp notification. nginx writes its own fields first and appends
    the publisher's query string after them, so the first value of a field is
    nginx's and later ones (``live_x?name=other``) are ignored."""

    call: str
    name: str
    addr: str
    clientid: str
    app: str

    @property
    def session(self) -> str:
        return f"nginx:{self.addr}:{self.clientid}"


def parse_mediamtx_auth(body: bytes) -> MediaMTXAuth:
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MediaError("invalid", "bad_request", "the body is not JSON") from exc
    if not isinstance(data, dict):
        raise MediaError("invalid", "bad_request", "the body is not a JSON object")
    try:
        return MediaMTXAuth.model_validate(data)
    except ValidationError as exc:
        fields = sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors()})
        raise MediaError(
            "invalid", "bad_request", f"the auth request is not valid: {', '.join(fields)}"
        ) from exc


def parse_nginx_call(body: bytes, content_type: str) -> NginxCall:
    if content_type.split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
        raise MediaError(
            "invalid", "bad_request", "send the fields as application/x-www-form-urlencoded"
        )
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
    except (UnicodeDecodeError, ValueError) as exc:
        raise MediaError("invalid", "bad_request", "the form cannot be read") from exc
    first: dict[str, str] = {}
    for key, value in pairs:
        first.setdefault(key, value)
    name = first.get("name", "")
    if not first.get("call") or not name:
        raise MediaError("invalid", "bad_request", "the call and name fields are required")
    if len(name) > _MAX_NAME or "\x00" in name:
        raise MediaError("invalid", "bad_request", "the stream name is not valid")
    return NginxCall(
        call=first["call"],
        name=name,
        addr=first.get("addr", ""),
        clientid=first.get("clientid", ""),
        app=first.get("app", ""),
    )


def check_secret(settings: Settings, server: MediaServer, presented: str | None) -> None:
    """Refuse a callback unless this server's hooks are on and it holds the secret."""
    if settings.media_server != server:
        raise MediaError("not_found", "not_found", f"{server} hooks are off on this service")
    expected = settings.media_hook_secret.get_secret_value() if settings.media_hook_secret else ""
    if (
        not expected
        or not presented
        or not hmac.compare_digest(presented.encode(), expected.encode())
    ):
        raise MediaError("unauthorized", "unauthorized", "present the media hook secret")


def _denied_key() -> MediaError:
    return MediaError("unauthorized", "unauthorized", "unknown stream key")


# -- the show's side -------------------------------------------------------------


class ExternalMedia:
    """Publish and dropout bookkeeping for an external media server."""

    def __init__(
        self, settings: Settings, db: Database, lifecycle: ShowLifecycle, link: ShowLink
    ) -> None:
        self.settings = settings
        self.db = db
        self.lifecycle = lifecycle
        self.link = link
        # show id → the media server's sessions publishing to it
        self._sessions: dict[str, set[str]] = {}
        # token_hash(key) → show id: the end of a publish finds its show after a rotation
        self._keys: dict[str, str] = {}
        self._grace = GraceTimers(settings.publish_grace_seconds, self._expired)
        self._reads: dict[str, tuple[bool, float]] = {}  # show id → (allowed, until)

    # -- MediaMTX -------------------------------------------------------------------

    async def mediamtx_auth(self, req: MediaMTXAuth) -> None:
        """Allow (return) or refuse (raise) one MediaMTX action."""
        if req.action == "publish":
            show_id = self._mediamtx_show_id(req.path)
            show = await self._show_for_key(self._mediamtx_key(req))
            if show is None:
                raise _denied_key()
            if show.id != show_id:
                raise MediaError(
                    "forbidden", "wrong_path", "this stream key publishes to another path"
                )
            await self._publishing(show, f"mediamtx:{show.id}", None)
            return
        if req.action in ("read", "playback"):
            if not await self._may_read(self._mediamtx_show_id(req.path)):
                raise MediaError("forbidden", "not_playing", "the show is not playing")
            return
        raise MediaError(
            "forbidden", "forbidden", f"{req.action or 'this action'} is not allowed through Pasar"
        )

    async def mediamtx_ready(self, path: str) -> None:
        """``runOnReady``: the path has a publisher (a reconnect cancels the grace)."""
        show = await self._show_by_id(self._mediamtx_show_id(path))
        if show is None:
            raise MediaError.not_found("show")
        await self._publishing(show, f"mediamtx:{show.id}", None)

    async def mediamtx_not_ready(self, path: str) -> None:
        """``runOnNotReady``: the publisher is gone; the grace starts."""
        show_id = self._mediamtx_show_id(path)
        await self._stopped(show_id, f"mediamtx:{show_id}")

    def _mediamtx_show_id(self, path: str) -> str:
        path = path.strip("/")
        show_id = path.removeprefix(MEDIAMTX_PATH_PREFIX)
        if not path.startswith(MEDIAMTX_PATH_PREFIX) or not id_shaped(show_id):
            raise MediaError(
                "forbidden", "wrong_path", f"Pasar's paths are {MEDIAMTX_PATH_PREFIX}<show id>"
            )
        return show_id

    @staticmethod
    def _mediamtx_key(req: MediaMTXAuth) -> str:
        query = parse_qs(req.query, keep_blank_values=True).get("key", [])
        for candidate in [*query[:1], req.password, req.token]:
            if candidate.startswith(shows.STREAM_KEY_PREFIX):
                return candidate
        return ""

    # -- nginx-rtmp -----------------------------------------------------------------

    async def nginx_publish(self, call: NginxCall) -> str:
        """``on_publish``: the stream name is the key; answer the show id to
        rename the stream to."""
        self._expect(call, "publish")
        show = await self._show_for_key(call.name)
        if show is None:
            raise _denied_key()
        await self._publishing(show, call.session, token_hash(call.name))
        return show.id

    async def nginx_publish_done(self, call: NginxCall) -> None:
        """``on_publish_done``: nginx names the stream as it was published (the key)."""
        self._expect(call, "publish_done")
        show_id = await self._show_id_for_name(call.name)
        if show_id is None:
            raise _denied_key()
        await self._stopped(show_id, call.session)

    async def nginx_update(self, call: NginxCall) -> None:
        """``on_update``: keep publishing only while the show is on (a show ended
        in the studio drops its publisher at the next update)."""
        self._expect(call, "update_publish")
        show_id = await self._show_id_for_name(call.name)
        show = await self._show_by_id(show_id) if show_id else None
        if show is None:
            raise _denied_key()
        if show.state not in (ShowState.SCHEDULED, ShowState.LIVE):
            raise MediaError("forbidden", "show_over", f"the show has {show.state}")

    @staticmethod
    def _expect(call: NginxCall, what: str) -> None:
        if call.call != what:
            raise MediaError(
                "invalid", "bad_request", f"this hook takes call={what}, not call={call.call}"
            )

    async def _show_id_for_name(self, name: str) -> str | None:
        if show_id := self._keys.get(token_hash(name)):
            return show_id
        show = await self._show_for_key(name)
        return show.id if show else None

    # -- shared ---------------------------------------------------------------------

    async def _show_for_key(self, key: str) -> Show | None:
        if not key:
            return None
        async with self.db.session() as db:
            return await shows.show_for_stream_key(db, key)

    async def _show_by_id(self, show_id: str) -> Show | None:
        async with self.db.session() as db:
            return await shows.public_show(db, show_id)

    async def _may_read(self, show_id: str) -> bool:
        now = time.monotonic()
        cached = self._reads.get(show_id)
        if cached is not None and cached[1] > now:
            return cached[0]
        show = await self._show_by_id(show_id)
        allowed = show is not None and show.state in (ShowState.LIVE, ShowState.REPLAY)
        if len(self._reads) > 10_000:
            self._reads.clear()
        self._reads[show_id] = (allowed, now + READ_CACHE_SECONDS)
        return allowed

    async def _publishing(self, show: Show, session: str, key_hash: str | None) -> None:
        state = ShowState(show.state)
        if state in (ShowState.ENDED, ShowState.REPLAY):
            raise MediaError("forbidden", "show_over", f"the show has {state}; schedule a new one")
        sessions = self._sessions.setdefault(show.id, set())
        # announce "live" when the stream starts or comes back, not for a second
        # publisher (which the media server refuses anyway)
        announce = not sessions or show.id in self._grace or state is ShowState.SCHEDULED
        sessions.add(session)
        if key_hash is not None:
            self._keys[key_hash] = show.id
        self._grace.cancel(show.id)
        if state is ShowState.SCHEDULED:
            await self.lifecycle.go_live(show.id)
        self._reads.pop(show.id, None)
        if announce:
            await self._status(show.id, "live")

    async def _stopped(self, show_id: str, session: str) -> None:
        sessions = self._sessions.get(show_id, set())
        sessions.discard(session)
        if sessions:
            return  # another publisher of this show is still on (or was refused)
        self._sessions.pop(show_id, None)
        self._keys = {k: v for k, v in self._keys.items() if v != show_id}
        show = await self._show_by_id(show_id)
        if show is None or show.state != ShowState.LIVE or show_id in self._grace:
            return
        await self._status(show_id, "reconnecting")
        self._grace.start(show_id)

    async def _expired(self, show_id: str) -> None:
        """The grace ran out: end the show (failures are logged by GraceTimers)."""
        await self.lifecycle.end(show_id)  # no media to end here: the server has it
        self._reads.pop(show_id, None)
        await self._status(show_id, "ended")

    async def _status(self, show_id: str, status: str) -> None:
        try:
            await self.link.status(show_id, status)
        except Exception:
            log.exception("show %s: stream status %s not published", show_id, status)

    async def close(self) -> None:
        """Shut down without ending any show: the grace timers are dropped."""
        await self._grace.close()
