"""The public show document (Storefront API) and oEmbed (issue 11).

Anyone may read a show by its id, as they may watch it: the document is what the
player draws before the video and the socket arrive (title, host, state, line-up,
branding). It is cacheable (``Cache-Control: public, max-age=5``) and carries a
strong ``ETag``; live changes come over the show socket, so a few seconds of
staleness cost nothing. Nothing private: no stream key, no staff email or id, no
draft or archived product, no stock count (``in_stock``/``low_stock`` only).
"""

from __future__ import annotations

import hashlib
import html
import io
import json
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import JSONResponse, Response
from PIL import Image
from sqlalchemy.ext.asyncio import AsyncSession

from pasar.catalog.models import Product
from pasar.commerce import pins as pin_service
from pasar.engagement import chat
from pasar.ids import id_shaped
from pasar.media import external
from pasar.media import recording as recordings
from pasar.services import Services
from pasar.shows import public
from pasar.shows.errors import ShowError
from pasar.shows.models import Show
from pasar.shows.schemas import OEmbedOut, PublicShowOut, ReplayChatPage
from pasar.shows.states import ShowState
from pasar.vendors.errors import VendorError
from pasar.vendors.models import StaffUser, Vendor
from pasar.vendors.service import SLUG_RE, get_vendor_by_slug
from pasar.web import serialize
from pasar.web.deps import find_show, get_services
from pasar.web.errors import error_response, responses

router = APIRouter(prefix="/api/v1/storefront", tags=["storefront"])
oembed_router = APIRouter(tags=["storefront"])
ServicesDep = Annotated[Services, Depends(get_services)]
CACHE_CONTROL = "public, max-age=5"
# The player is portrait first (hosts stream from phones): 9:16.
EMBED_WIDTH, EMBED_HEIGHT = 360, 640
OEMBED_CACHE_AGE = 3600
CACHED: dict[int | str, dict[str, Any]] = {
    200: {
        "headers": {
            "ETag": {"description": "A strong validator.", "schema": {"type": "string"}},
            "Cache-Control": {"description": "`public, max-age=5`", "schema": {"type": "string"}},
        }
    },
    304: {"description": "Not modified (If-None-Match matched the ETag)."},
}
IfNoneMatch = Annotated[
    str | None,
    Header(max_length=2000, description="An ETag from an earlier answer: 304 while it matches."),
]


def watch_url(public_url: str, show_id: str) -> str:
    return f"{public_url}/watch/{quote(show_id)}"


def embed_url(public_url: str, show_id: str) -> str:
    return f"{public_url}/embed/shows/{quote(show_id)}"


def _socket_url(public_url: str, show_id: str) -> str:
    scheme, rest = public_url.split("://", 1)
    return f"{'wss' if scheme == 'https' else 'ws'}://{rest}/ws/shows/{quote(show_id)}"


def _product(p: Product, services: Services) -> dict[str, Any]:
    variants = []
    for v in p.variants:
        in_stock, low_stock = public.stock_hint(v)
        variants.append(
            {
                "id": v.id,
                "sku": v.sku,
                "title": " / ".join(v.option_values) or "Default",
                "options": dict(zip(p.options, v.option_values, strict=False)),
                "price": v.price,
                "compare_at_price": v.compare_at_price,
                "in_stock": in_stock,
                "low_stock": low_stock,
            }
        )
    return {
        "id": p.id,
        "title": p.title,
        "description": p.description,
        "url": p.product_url,
        "currency": p.currency,
        "options": list(p.options),
        "images": [
            {
                "url": serialize.image_url(services.storage, i),
                "alt": i.alt,
                "width": i.width,
                "height": i.height,
            }
            for i in p.images
        ],
        "variants": variants,
    }


async def _chapters(
    db: AsyncSession, services: Services, show: Show, visible: set[str]
) -> list[dict[str, Any]]:
    """A chapter at every pin, once the show is over and its recording maps
    wall-clock to replay time."""
    if show.state not in (ShowState.ENDED.value, ShowState.REPLAY.value):
        return []
    recording = await recordings.load(services.storage, show.id)
    pins = await pin_service.list_pins(db, show.vendor_id, show.id)
    outs = [pin_service.pin_out(pin, recording) for pin in pins if pin.product_id in visible]
    return [
        {
            "pin_id": o["id"],
            "product_id": o["product_id"],
            "pinned_at": o["pinned_at"],
            "media_time": o["media_time"],
        }
        for o in outs
    ]


async def document(services: Services, show: Show) -> dict[str, Any]:
    """The show document, JSON-ready."""
    public_url = services.settings.resolved_public_url
    async with services.db.session() as db:
        vendor = await db.get(Vendor, show.vendor_id)
        assert vendor is not None  # shows cascade with their vendor
        host = await db.get(StaffUser, show.host_user_id) if show.host_user_id else None
        lineup = await public.visible_lineup(db, show)
        visible = {p.id for p in lineup}
        # The socket snapshot's own pins and deals, limited to what a shopper may see.
        shop = await services.commerce.on_screen(db, show.id, services.storage)
        chapters = await _chapters(db, services, show, visible)
    data = {
        "id": show.id,
        "title": show.title,
        "description": show.description,
        "state": show.state,
        "scheduled_at": show.scheduled_at,
        "started_at": show.started_at,
        "ended_at": show.ended_at,
        "cover_url": services.storage.url(show.cover_key) if show.cover_key else None,
        "host": {"display_name": host.display_name} if host is not None else None,
        "vendor": {
            "name": vendor.name,
            "slug": vendor.slug,
            "locale": vendor.default_locale,
            "currency": vendor.default_currency,
            "brand_color": vendor.brand_color,
            "logo_url": vendor.logo_url,
        },
        "watch_url": watch_url(public_url, show.id),
        "embed_url": embed_url(public_url, show.id),
        "socket_url": _socket_url(public_url, show.id),
        "playback": {
            "hls_url": external.show_playback_url(services.settings, show.id),
            "chapters": chapters,
        },
        "lineup": [_product(p, services) for p in lineup],
        "pinned_products": [p for p in shop.pinned_products if p["product_id"] in visible],
        "deals": [d for d in shop.deals if d["product_id"] in visible],
    }
    return PublicShowOut.model_validate(data).model_dump(mode="json")


def _matches(if_none_match: str | None, etag: str) -> bool:
    """If-None-Match uses the weak comparison (RFC 9110 §13.1.2)."""
    if not if_none_match:
        return False
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return "*" in tags or etag in tags


def cached_json(if_none_match: str | None, data: dict[str, Any]) -> Response:
    body = json.dumps(data, separators=(",", ":"), sort_keys=True).encode()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
    if _matches(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


DOC_DESCRIPTION = (
    "Everything a shopper may see of a show, for anyone who knows its id: title, host's "
    "display name, state and schedule, cover, playback (HLS; chapters once it has ended), "
    "the line-up's active products with their variants (`in_stock`, `low_stock` at 5 or "
    "fewer: never the count), the pins on screen and running deals as the show socket's "
    "snapshot has them, and the vendor's name, locale, currency and branding. "
    "`Cache-Control: public, max-age=5`; send the `ETag` back as `If-None-Match` for a 304."
)


@router.get(
    "/shows/{show_id}",
    response_model=PublicShowOut,
    responses={**CACHED, **responses(404)},
    description=DOC_DESCRIPTION,
)
async def show_document(
    services: ServicesDep, show_id: str, if_none_match: IfNoneMatch = None
) -> Response:
    show = await find_show(services, show_id)
    return cached_json(if_none_match, await document(services, show))


@router.get(
    "/vendors/{vendor_slug}/shows/current",
    response_model=PublicShowOut,
    responses={**CACHED, **responses(404)},
    description=(
        'The vendor\'s "Live now" slot: the document of its live show, else of its next '
        "scheduled show (dated, at most 2 hours overdue, soonest first), else of its latest "
        "replay; 404 `no_show` when it has none. Cached like the show document."
    ),
)
async def current_show(
    services: ServicesDep, vendor_slug: str, if_none_match: IfNoneMatch = None
) -> Response:
    if not SLUG_RE.match(vendor_slug):  # not a slug: no need to ask the database
        raise VendorError("not_found", "not_found", "no such vendor")
    async with services.db.session() as db:
        vendor = await get_vendor_by_slug(db, vendor_slug)
        show = await public.current_show(db, vendor.id)
    if show is None:
        raise ShowError("not_found", "no_show", "this vendor has no live, upcoming or past show")
    return cached_json(if_none_match, await document(services, show))


REPLAY_CHAT_CACHE = "public, max-age=60"


@router.get(
    "/shows/{show_id}/replay/chat",
    response_model=ReplayChatPage,
    responses=responses(404, 409, 422),
    description=(
        "The chat of a show that has ended, oldest first, each message with the replay "
        "time it was sent at (`media_time`, from the recording's wall-clock timeline), so "
        "the player replays it in step with the video. Only messages that were visible; "
        "held, rejected and deleted ones never appear. 409 `show_not_over` while the show "
        "is scheduled or live (the show socket carries its chat). Pages of `limit` (≤ 500) "
        "after the `after` cursor. `Cache-Control: public, max-age=60`."
    ),
)
async def replay_chat(
    services: ServicesDep,
    show_id: str,
    after: Annotated[str | None, Query(min_length=1, max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 500,
) -> JSONResponse:
    show = await find_show(services, show_id)
    if show.state not in (ShowState.ENDED.value, ShowState.REPLAY.value):
        raise ShowError("conflict", "show_not_over", "the show's chat replays once it has ended")
    recording = await recordings.load(services.storage, show.id)
    async with services.db.session() as db:
        rows = await chat.visible_after(db, show.vendor_id, show.id, after, limit)
    data = [
        {
            **chat.message_data(row),
            "media_time": recording.media_time_at(row.created_at) if recording else None,
        }
        for row in rows
    ]
    page = ReplayChatPage.model_validate(
        {"data": data, "next_cursor": rows[-1].id if len(rows) == limit else None}
    ).model_dump(mode="json")
    return JSONResponse(page, headers={"Cache-Control": REPLAY_CHAT_CACHE})


# -- oEmbed ------------------------------------------------------------------------------


def _show_id_of(url: str, public_url: str) -> str | None:
    """The show id in one of our watch (or embed) URLs; None for anything else."""
    ours, theirs = urlsplit(public_url), urlsplit(url.strip())
    if (theirs.scheme, theirs.netloc.lower()) != (ours.scheme, ours.netloc.lower()):
        return None
    base = ours.path.rstrip("/")
    for prefix in (f"{base}/watch/", f"{base}/embed/shows/"):
        if theirs.path.startswith(prefix):
            show_id = theirs.path.removeprefix(prefix).rstrip("/")
            return show_id if id_shaped(show_id) else None
    return None


def fit(max_width: int | None, max_height: int | None) -> tuple[int, int]:
    """The 9:16 frame, shrunk to fit within max_width × max_height."""
    width, height = EMBED_WIDTH, EMBED_HEIGHT
    if max_width is not None and max_width < width:
        width, height = max_width, max_width * 16 // 9
    if max_height is not None and max_height < height:
        width, height = max_height * 9 // 16, max_height
    return max(width, 1), max(height, 1)


async def _thumbnail(services: Services, show: Show) -> dict[str, Any]:
    """oEmbed wants the thumbnail's size with its URL; covers are stored without it."""
    if not show.cover_key:
        return {}
    raw = await services.storage.get(show.cover_key)
    if raw is None:
        return {}
    try:
        with Image.open(io.BytesIO(raw)) as img:
            width, height = img.size
    except (OSError, ValueError, Image.DecompressionBombError):  # left out, not a 500
        return {}
    url = services.storage.url(show.cover_key)
    return {"thumbnail_url": url, "thumbnail_width": width, "thumbnail_height": height}


@oembed_router.get(
    "/oembed",
    response_model=OEmbedOut,
    responses={**responses(404), 501: {"description": "Only format=json is served."}},
    description=(
        "oEmbed 1.0 (https://oembed.com) for a show's watch URL "
        "(`{PASAR_PUBLIC_URL}/watch/{show_id}`): a `rich` answer whose `html` is an iframe "
        "of `/embed/shows/{show_id}`, 9:16 (360×640) shrunk to fit `maxwidth`/`maxheight`. "
        "404 for URLs that are not ours or unknown shows; 501 for `format=xml`."
    ),
)
async def oembed(
    services: ServicesDep,
    url: Annotated[str, Query(min_length=1, max_length=2000)],
    maxwidth: Annotated[int | None, Query(ge=1, le=10_000)] = None,
    maxheight: Annotated[int | None, Query(ge=1, le=10_000)] = None,
    format: Annotated[
        Literal["json", "xml"], Query(description="Only `json` is served (`xml`: 501).")
    ] = "json",
) -> Response:
    if format == "xml":
        return error_response(501, "format_not_supported", "only format=json is served")
    public_url = services.settings.resolved_public_url
    show_id = _show_id_of(url, public_url)
    if show_id is None:
        raise ShowError.not_found("show")
    show = await find_show(services, show_id)
    async with services.db.session() as db:
        vendor = await db.get(Vendor, show.vendor_id)
    assert vendor is not None
    width, height = fit(maxwidth, maxheight)
    src = html.escape(embed_url(public_url, show.id))
    frame = (
        f'<iframe src="{src}" width="{width}" height="{height}" title="{html.escape(show.title)}" '
        'style="border:0" allow="autoplay; fullscreen; picture-in-picture; clipboard-write" '
        "allowfullscreen></iframe>"
    )
    data = OEmbedOut(
        title=show.title,
        author_name=vendor.name,
        provider_name="Pasar",
        provider_url=public_url,
        html=frame,
        width=width,
        height=height,
        cache_age=OEMBED_CACHE_AGE,
        **await _thumbnail(services, show),
    ).model_dump(mode="json", exclude_none=True)
    return JSONResponse(data, headers={"Access-Control-Allow-Origin": "*"})
