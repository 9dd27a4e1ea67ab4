"""/api/v1/shows: shows, line-ups, state changes, covers and ingest settings."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Response, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from pasar.catalog.images import clean_image
from pasar.ids import new_id
from pasar.media import external
from pasar.shows import events as show_events
from pasar.shows import service as shows
from pasar.shows.errors import ShowError
from pasar.shows.models import Show
from pasar.shows.schemas import IngestOut, LineupIn, ShowIn, ShowOut, ShowPatch, TransitionIn
from pasar.shows.states import ShowState
from pasar.validation import IsoDateTime
from pasar.vendors.scopes import Role, Scope
from pasar.web import serialize
from pasar.web.deps import Ctx, PageParams, page_params, requires
from pasar.web.errors import responses
from pasar.web.idempotency import IdempotencyDep
from pasar.web.limits import MAX_UPLOAD_BYTES

router = APIRouter(prefix="/api/v1/shows", tags=["shows"], responses=responses(401, 403))
Read = Annotated[Ctx, Depends(requires(Scope.SHOWS_READ))]
Write = Annotated[Ctx, Depends(requires(Scope.SHOWS_WRITE))]


class ShowPage(BaseModel):
    data: list[ShowOut]
    next_cursor: str | None


def _out(ctx: Ctx, show: Show) -> dict[str, Any]:
    settings = ctx.services.settings
    return serialize.show(
        show,
        ctx.services.storage,
        settings.resolved_public_url,
        external.playback_url(settings, show.id),
    )


@router.get("", response_model=ShowPage, responses=responses(400, 422))
async def list_shows(
    ctx: Read,
    page: Annotated[PageParams, Depends(page_params)],
    state: ShowState | None = None,
    scheduled_after: IsoDateTime | None = None,
    scheduled_before: IsoDateTime | None = None,
) -> dict[str, Any]:
    result = await shows.list_shows(
        ctx.db,
        ctx.vendor_id,
        state=state,
        scheduled_after=scheduled_after,
        scheduled_before=scheduled_before,
        cursor=page.cursor,
        limit=page.limit,
    )
    return {"data": [_out(ctx, s) for s in result.items], "next_cursor": result.next_cursor}


@router.post("", status_code=201, response_model=ShowOut, responses=responses(400, 409, 422))
async def create_show(body: ShowIn, ctx: Write, idem: IdempotencyDep) -> JSONResponse:
    if replay := await idem.replay(ctx):
        return replay
    show = await shows.create_show(ctx.db, ctx.services.box, ctx.vendor_id, body)
    out = _out(ctx, show)
    await show_events.emit(ctx.db, show, out["playback_url"])
    response = await idem.commit(ctx, 201, out)
    ctx.services.webhooks.nudge()
    return response


@router.get("/{show_id}", response_model=ShowOut, responses=responses(404))
async def get_show(show_id: str, ctx: Read) -> dict[str, Any]:
    return _out(ctx, await shows.get_show(ctx.db, ctx.vendor_id, show_id))


@router.patch("/{show_id}", response_model=ShowOut, responses=responses(400, 404, 422))
async def update_show(show_id: str, body: ShowPatch, ctx: Write) -> dict[str, Any]:
    show = await shows.update_show(
        ctx.db, await shows.get_show(ctx.db, ctx.vendor_id, show_id), body
    )
    out = _out(ctx, show)
    await ctx.db.commit()
    return out


@router.delete("/{show_id}", status_code=204, responses=responses(404, 409))
async def delete_show(show_id: str, ctx: Write) -> Response:
    show = await shows.get_show(ctx.db, ctx.vendor_id, show_id)
    cover = show.cover_key
    await shows.delete_show(ctx.db, show)
    await ctx.db.commit()
    if cover:
        await ctx.services.storage.delete(cover)
    await ctx.services.show_link.forget(show_id)  # the recording, if any
    return Response(status_code=204)


@router.put("/{show_id}/lineup", response_model=ShowOut, responses=responses(400, 404, 422))
async def set_lineup(show_id: str, body: LineupIn, ctx: Write) -> dict[str, Any]:
    show = await shows.get_show(ctx.db, ctx.vendor_id, show_id)
    await shows.set_lineup(ctx.db, show, body.product_ids)
    out = _out(ctx, show)
    await ctx.db.commit()
    return out


@router.post(
    "/{show_id}/transitions", response_model=ShowOut, responses=responses(400, 404, 409, 422)
)
async def transition(show_id: str, body: TransitionIn, ctx: Write) -> dict[str, Any]:
    """Move the show along scheduled → live → ended → replay; anything else is 409."""
    services = ctx.services
    show = await shows.get_show(ctx.db, ctx.vendor_id, show_id)
    builtin = services.settings.media_server == "builtin"
    if body.to is ShowState.REPLAY and show.state == ShowState.ENDED and builtin:
        # An external media server keeps its own recordings: Pasar cannot look.
        await services.show_link.require_recording(show.id)
    playback_url = external.show_playback_url(services.settings, show.id)
    await services.lifecycle.move(ctx.db, show, body.to, playback_url)
    out = _out(ctx, show)
    if show.state == ShowState.ENDED:
        await services.media.close_show(show_id)  # stop the publisher, close the recording
    return out


@router.post(
    "/{show_id}/cover",
    response_model=ShowOut,
    responses=responses(400, 404, 413, 422),
    max_body_size=MAX_UPLOAD_BYTES,
)
async def upload_cover(
    show_id: str, ctx: Write, file: Annotated[UploadFile, File(description="JPEG, PNG or WebP.")]
) -> dict[str, Any]:
    show = await shows.get_show(ctx.db, ctx.vendor_id, show_id)
    limits = ctx.services.settings
    raw = await file.read(limits.max_image_bytes + 1)
    image = await clean_image(
        raw, max_bytes=limits.max_image_bytes, max_pixels=limits.max_image_pixels
    )
    key = f"vendors/{ctx.vendor_id}/covers/{new_id('cov')}.{image.extension}"
    await ctx.services.storage.put(key, image.data)
    old = await shows.set_cover(ctx.db, show, key)
    out = _out(ctx, show)
    await ctx.db.commit()
    if old:
        await ctx.services.storage.delete(old)
    return out


def _may_reveal(ctx: Ctx) -> None:
    p = ctx.principal
    if p.kind == "staff" and p.role not in (Role.OWNER, Role.HOST):
        raise ShowError("forbidden", "forbidden", "only owners and hosts may see the stream key")


def _ingest(ctx: Ctx, show: Show, key: str) -> dict[str, Any]:
    settings = ctx.services.settings
    return IngestOut(
        whip_url=external.whip_url(settings, show.id) or f"{settings.resolved_public_url}/whip",
        stream_key=key,
        rotated_at=show.stream_key_rotated_at,
        rtmp_url=external.rtmp_url(settings, show.id, key),
    ).model_dump(mode="json")


@router.get("/{show_id}/ingest", response_model=IngestOut, responses=responses(404))
async def reveal_ingest(show_id: str, ctx: Write) -> dict[str, Any]:
    """The WHIP URL and stream key to paste into OBS or the studio's browser publisher."""
    _may_reveal(ctx)
    show = await shows.get_show(ctx.db, ctx.vendor_id, show_id)
    return _ingest(ctx, show, shows.reveal_stream_key(ctx.services.box, show))


@router.post("/{show_id}/ingest/rotate", response_model=IngestOut, responses=responses(404))
async def rotate_stream_key(show_id: str, ctx: Write) -> dict[str, Any]:
    """A new stream key; the old one stops working at once."""
    _may_reveal(ctx)
    show = await shows.get_show(ctx.db, ctx.vendor_id, show_id)
    key = await shows.rotate_stream_key(ctx.db, ctx.services.box, show)
    await ctx.db.commit()
    return _ingest(ctx, show, key)
