"""WHIP ingest (RFC 9725) at /whip and HLS playback at /hls/{show_id}/.

WHIP is authenticated by the show's stream key as a bearer token, not by
cookies, so any origin may call it (CORS is open): a page can only publish
if it holds the key.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from pydantic import BaseModel, Field

from pasar.ids import id_shaped
from pasar.media import recording as recordings
from pasar.media.errors import MediaError
from pasar.media.packager import hls_key
from pasar.media.playback import Playback
from pasar.services import Services
from pasar.shows import service as shows
from pasar.shows.models import Show
from pasar.shows.states import ShowState
from pasar.vendors.scopes import Scope
from pasar.web.deps import Ctx, get_services, requires
from pasar.web.errors import responses

router = APIRouter(tags=["media"])
ServicesDep = Annotated[Services, Depends(get_services)]

MAX_SDP_BYTES = 64 * 1024
WHIP_CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, DELETE, PATCH, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, If-Match",
    "Access-Control-Expose-Headers": "Location, ETag, Link, Accept-Patch",
    "Access-Control-Max-Age": "86400",
}
HLS_CORS = {"Access-Control-Allow-Origin": "*"}
PLAYLIST_CACHE = "public, max-age=1"  # a CDN keys blocking reloads on the query
VOD_CACHE = "public, max-age=60"
IMMUTABLE = "public, max-age=31536000, immutable"


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise MediaError("unauthorized", "unauthorized", "send the stream key as a Bearer token")
    return token.strip()


async def _show_for_key(services: Services, key: str) -> Show:
    async with services.db.session() as db:
        show = await shows.show_for_stream_key(db, key)
    if show is None:
        raise MediaError("unauthorized", "unauthorized", "unknown stream key")
    return show


async def _sdp_body(request: Request) -> str:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/sdp":
        raise HTTPException(415, "send the SDP offer with Content-Type: application/sdp")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_SDP_BYTES:
            raise MediaError("too_large", "too_large", "the SDP offer is too large")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MediaError("invalid", "bad_sdp", "the SDP offer is not UTF-8") from exc
    if not text.startswith("v=0"):
        raise MediaError("invalid", "bad_sdp", "the body is not an SDP offer")
    return text


@router.options("/whip", include_in_schema=False)
@router.options("/whip/{session_id}", include_in_schema=False)
async def whip_options() -> Response:
    return Response(status_code=204, headers={**WHIP_CORS, "Accept-Post": "application/sdp"})


@router.post(
    "/whip",
    status_code=201,
    response_class=Response,
    responses={
        201: {"content": {"application/sdp": {}}, "description": "The SDP answer."},
        **responses(400, 401, 409, 413, 415),
    },
)
async def whip_publish(request: Request, services: ServicesDep) -> Response:
    """Start publishing: an SDP offer in, the answer out (RFC 9725). The bearer
    token is the show's stream key. A scheduled show goes live when the first
    video arrives."""
    if services.settings.media_server != "builtin":
        raise MediaError(
            "conflict",
            "external_media_server",
            "this service takes streams through its media server; publish to the ingest "
            "URLs that GET /api/v1/shows/{id}/ingest gives",
        )
    key = _bearer(request)
    offer = await _sdp_body(request)
    show = await _show_for_key(services, key)
    if show.state in (ShowState.ENDED, ShowState.REPLAY):
        raise MediaError("conflict", "show_over", f"the show has {show.state}; schedule a new one")
    publisher = await services.media.publish(show.id, offer, request.headers.get("user-agent", ""))
    answer = publisher.pc.localDescription.sdp
    return Response(
        content=answer,
        status_code=201,
        media_type="application/sdp",
        headers={
            **WHIP_CORS,
            "Location": f"/whip/{publisher.id}",
            "ETag": f'"{publisher.id}"',
        },
    )


@router.patch("/whip/{session_id}", include_in_schema=False)
async def whip_patch(session_id: str) -> Response:
    # Trickle ICE and ICE restarts are optional in WHIP; publishers fall back to
    # sending all candidates in the offer, which they all do.
    return Response(status_code=405, headers={**WHIP_CORS, "Allow": "POST, DELETE, OPTIONS"})


@router.delete("/whip/{session_id}", status_code=200, responses=responses(401, 404))
async def whip_stop(session_id: str, request: Request, services: ServicesDep) -> Response:
    """Stop publishing: ends the show (its replay publishes itself). A session
    that never delivered video just closes, leaving the show as it was."""
    key = _bearer(request)
    show = await _show_for_key(services, key)
    publisher = services.media.session(session_id)
    if publisher is None or publisher.show_id != show.id:
        raise MediaError.not_found("WHIP session")
    if publisher.media_started:
        await services.media.end(show.id)
    else:
        await services.media.stop_publisher(publisher)
    return Response(status_code=200, headers=WHIP_CORS)


class PublisherHealth(BaseModel):
    session_id: str
    connected_at: datetime
    codec: str = Field(description="What the publisher sends: H264 (remuxed) or VP8.")
    width: int | None
    height: int | None
    fps: float
    video_kbps: int
    audio_kbps: int
    keyframe_interval_s: float | None
    packet_loss_pct: float | None
    transcoding: bool
    renditions: list[str] = Field(
        description="Renditions made besides the source: ladder rungs and the audio-only "
        "one, e.g. ['360p', 'audio']."
    )


class StreamHealth(BaseModel):
    state: Literal["live", "reconnecting", "offline"]
    publisher: PublisherHealth | None


@router.get(
    "/api/v1/shows/{show_id}/stream",
    response_model=StreamHealth,
    tags=["shows"],
    responses=responses(401, 403, 404),
)
async def stream_health(
    show_id: str, ctx: Annotated[Ctx, Depends(requires(Scope.SHOWS_READ))]
) -> dict[str, Any]:
    """The publisher's health for the studio: bitrate, frame rate, resolution,
    keyframe interval and packet loss; ``state`` is live, reconnecting or offline."""
    await shows.get_show(ctx.db, ctx.vendor_id, show_id)
    return await ctx.services.media.health(show_id)


class TimelineEntryOut(BaseModel):
    uri: str
    media_time: float = Field(description="Seconds from the start of the replay.")
    duration: float
    wall_clock: datetime = Field(description="When the segment's first frame was captured.")


class RecordingOut(BaseModel):
    show_id: str
    duration: float = Field(description="Seconds of recorded video (dropouts excluded).")
    hls_url: str
    mp4_status: Literal["ready", "processing", "none"]
    mp4_url: str | None = Field(description="The whole show as one MP4, once ready.")
    delete_after: datetime | None = Field(description="When retention deletes it; null: kept.")
    timeline: list[TimelineEntryOut] = Field(
        description="Each segment's place in the replay and the wall-clock time it was "
        "captured: maps a live moment (a pin, a chat message) to replay time."
    )


@router.get(
    "/api/v1/shows/{show_id}/recording",
    response_model=RecordingOut,
    tags=["shows"],
    responses=responses(401, 403, 404),
)
async def recording(
    show_id: str, ctx: Annotated[Ctx, Depends(requires(Scope.SHOWS_READ))]
) -> dict[str, Any]:
    """The show's recording: the replay's timeline and the MP4 download."""
    show = await shows.get_show(ctx.db, ctx.vendor_id, show_id)
    services = ctx.services
    found = await recordings.load(services.storage, show_id)
    if found is None:
        raise MediaError("not_found", "not_found", "this show has no recording")
    mp4_key = hls_key(show_id, recordings.MP4)
    if await services.storage.exists(mp4_key):
        status = "ready"
    elif show.state == ShowState.REPLAY:
        status = "processing"
        services.show_link.exporter.start(show_id)  # made after a restart lost the first try
    else:
        status = "none"  # still live: the MP4 comes once the show has ended
    days = services.settings.recording_retention_days
    return RecordingOut(
        show_id=show_id,
        duration=round(found.duration, 3),
        hls_url=f"{services.settings.resolved_public_url}/hls/{show_id}/index.m3u8",
        mp4_status=status,
        mp4_url=services.storage.url(mp4_key) if status == "ready" else None,
        delete_after=show.ended_at + timedelta(days=days) if days and show.ended_at else None,
        timeline=[TimelineEntryOut(**vars(e)) for e in found.timeline],
    ).model_dump(mode="json")


# -- playback -----------------------------------------------------------------

_SEGMENT = re.compile(r"^s(\d{1,9})\.m4s$")
_PART = re.compile(r"^s(\d{1,9})\.(\d{1,4})\.m4s$")
_INIT = re.compile(r"^init(\d{1,6})\.mp4$")


def _playlist(text: str, cache: str) -> Response:
    return Response(
        text,
        media_type="application/vnd.apple.mpegurl",
        headers={**HLS_CORS, "Cache-Control": cache},
    )


def _stream_id(show_id: str) -> str:
    # Before the id names a storage key: an over-long one is an OS error
    # ("file name too long"), a ``..`` one a path outside the show.
    if not id_shaped(show_id):
        raise MediaError("not_found", "not_found", "stream not found")
    return show_id


def _playback(services: Services) -> Playback:
    return Playback(services.media, services.storage, 3 * services.settings.hls_segment_seconds)


@router.get("/hls/{show_id}/index.m3u8", include_in_schema=False)
async def hls_index(show_id: str, services: ServicesDep) -> Response:
    show_id = _stream_id(show_id)
    playlist = await _playback(services).multivariant(show_id)
    return _playlist(playlist.text, VOD_CACHE if playlist.final else PLAYLIST_CACHE)


RENDITION = re.compile(r"^(\d{3,4}p|audio)$")


def _rendition(name: str) -> str:
    if not RENDITION.match(name):
        raise MediaError("not_found", "not_found", "rendition not found")
    return name


@router.get("/hls/{show_id}/live.m3u8", include_in_schema=False)
@router.get("/hls/{show_id}/legacy.m3u8", include_in_schema=False)
@router.get("/hls/{show_id}/{rendition}/live.m3u8", include_in_schema=False)
@router.get("/hls/{show_id}/{rendition}/legacy.m3u8", include_in_schema=False)
async def hls_media(
    show_id: str,
    request: Request,
    services: ServicesDep,
    rendition: str = "",
    msn: Annotated[int | None, Query(alias="_HLS_msn", ge=0, le=10**9)] = None,
    part: Annotated[int | None, Query(alias="_HLS_part", ge=0, le=10**4)] = None,
) -> Response:
    """The live media playlist (Low-Latency HLS with blocking reload) of the
    source or a ladder rung, or the recording's VOD playlist once the show has ended."""
    show_id = _stream_id(show_id)
    low_latency = request.url.path.endswith("live.m3u8")
    rendition = _rendition(rendition) if rendition else ""
    playlist = await _playback(services).media(show_id, low_latency, msn, part, rendition)
    if playlist is None:
        return Response(status_code=503, headers={**HLS_CORS, "Retry-After": "1"})
    return _playlist(playlist.text, VOD_CACHE if playlist.final else PLAYLIST_CACHE)


@router.get("/hls/{show_id}/{name}", include_in_schema=False)
@router.get("/hls/{show_id}/{rendition}/{name}", include_in_schema=False)
async def hls_file(show_id: str, name: str, services: ServicesDep, rendition: str = "") -> Response:
    """Init segments, segments and parts (immutable), and the poster."""
    show_id = _stream_id(show_id)
    playback = _playback(services)
    rendition = _rendition(rendition) if rendition else ""
    if _PART.match(name):
        data = await playback.part(show_id, name, rendition)
    elif _SEGMENT.match(name) or _INIT.match(name):
        data = await playback.file(show_id, name, rendition)
    elif name == "poster.jpg" and not rendition:
        data = await playback.file(show_id, name)
        headers = {**HLS_CORS, "Cache-Control": "public, max-age=5"}
        return Response(data, media_type="image/jpeg", headers=headers)
    else:
        raise MediaError("not_found", "not_found", "file not found")
    return Response(data, media_type="video/mp4", headers={**HLS_CORS, "Cache-Control": IMMUTABLE})
