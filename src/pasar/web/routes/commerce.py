"""Vendor side of live commerce: pins, flash deals, reservations."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, TypeAdapter

from pasar.catalog.models import Product
from pasar.clock import utcnow
from pasar.commerce import deals as deal_service
from pasar.commerce import orders
from pasar.commerce import pins as pin_service
from pasar.commerce import reservations as rsv
from pasar.commerce.schemas import (
    ConfirmIn,
    DealEndIn,
    DealIn,
    DealOut,
    PinOut,
    ProductPinIn,
    ReservationOut,
    ReservationStatus,
)
from pasar.media import recording
from pasar.shows.service import get_show
from pasar.web.deps import Ctx, OrdersWrite, ShowsRead, ShowsWrite
from pasar.web.errors import responses
from pasar.web.idempotency import IdempotencyDep
from pasar.webhooks import enqueue

router = APIRouter(tags=["live commerce"], responses=responses(401, 403))
P = "/api/v1/shows/{show_id}"
DEAL_OUT = TypeAdapter(DealOut)


def _actor(ctx: Ctx) -> str:
    return f"{ctx.principal.kind}:{ctx.principal.actor_id}"


def _image(ctx: Ctx) -> Callable[[Product], str | None]:
    storage = ctx.services.storage
    return lambda product: pin_service.first_image_url(product, storage)


# -- pins ----------------------------------------------------------------------


@router.get(f"{P}/pins", response_model=list[PinOut], responses=responses(404))
async def list_pins(
    ctx: ShowsRead,
    show_id: str,
    active: Annotated[bool, Query(description="Only the products pinned now.")] = False,
) -> list[dict[str, Any]]:
    show = await get_show(ctx.db, ctx.vendor_id, show_id)
    pins = await pin_service.list_pins(ctx.db, ctx.vendor_id, show.id)
    if active:
        pins = [p for p in pins if p.unpinned_at is None]
    rec = await recording.load(ctx.services.storage, show.id) if pins else None
    return [pin_service.pin_out(p, rec) for p in pins]


@router.post(
    f"{P}/pins",
    response_model=PinOut,
    status_code=201,
    responses=responses(400, 404, 409, 422),
    description="Pin a line-up product (at most 3 at once); every viewer sees it at once. "
    "Pinning a product that is pinned already answers 200 with that pin.",
)
async def pin_product(ctx: ShowsWrite, show_id: str, body: ProductPinIn) -> JSONResponse:
    show = await get_show(ctx.db, ctx.vendor_id, show_id)
    now_media = None
    if show.state == "live":
        rec = await recording.load(ctx.services.storage, show.id)
        now_media = pin_service.live_media_time(rec, utcnow())
    pin, product, created = await pin_service.pin_product(
        ctx.db, show, body.product_id, _actor(ctx), now_media
    )
    data = pin_service.pinned_data(pin, product, _image(ctx))
    if created:
        await enqueue(ctx.db, ctx.vendor_id, "product.pinned", {**data, "show_id": show.id})
    await ctx.db.commit()
    ctx.services.commerce.show_changed(show.id)
    if created:
        await ctx.services.realtime.publish(show.id, "product.pinned", data)
        ctx.services.commerce.nudge_webhooks()
    out = PinOut.model_validate(pin_service.pin_out(pin, None)).model_dump(mode="json")
    return JSONResponse(out, status_code=201 if created else 200)


@router.delete(f"{P}/pins/{{pin_id}}", status_code=204, responses=responses(404))
async def unpin(ctx: ShowsWrite, show_id: str, pin_id: str) -> Response:
    pin = await pin_service.get_pin(ctx.db, ctx.vendor_id, show_id, pin_id)
    changed = await pin_service.unpin(ctx.db, pin)
    if changed:
        await enqueue(
            ctx.db,
            ctx.vendor_id,
            "product.unpinned",
            {"show_id": show_id, "pin_id": pin.id, "product_id": pin.product_id},
        )
    await ctx.db.commit()
    ctx.services.commerce.show_changed(show_id)
    if changed:
        await ctx.services.realtime.publish(
            show_id, "product.unpinned", {"product_id": pin.product_id, "pin_id": pin.id}
        )
        ctx.services.commerce.nudge_webhooks()
    return Response(status_code=204)


# -- deals ---------------------------------------------------------------------


@router.get(f"{P}/deals", response_model=list[DealOut], responses=responses(404))
async def list_deals(ctx: ShowsRead, show_id: str) -> list[DealOut]:
    show = await get_show(ctx.db, ctx.vendor_id, show_id)
    found = await deal_service.list_deals(ctx.db, ctx.vendor_id, show.id)
    stock = await deal_service.stock_of(ctx.db, [d.id for d in found])
    return [deal_service.out(d, stock.get(d.id)) for d in found]


@router.post(
    f"{P}/deals",
    response_model=DealOut,
    status_code=201,
    responses=responses(400, 404, 409, 422),
    description="Start a flash deal now or after a countdown; viewers see it at once "
    "(`deal.started`, with `starts_at` for the countdown).",
)
async def create_deal(
    ctx: ShowsWrite, show_id: str, body: DealIn, idem: IdempotencyDep
) -> JSONResponse:
    if (replayed := await idem.replay(ctx)) is not None:
        return replayed
    show = await get_show(ctx.db, ctx.vendor_id, show_id)
    deal = await deal_service.create_deal(
        ctx.db, show, body, ctx.services.settings.deal_hold_seconds
    )
    stock = (await deal_service.stock_of(ctx.db, [deal.id])).get(deal.id)
    body_out = DEAL_OUT.dump_python(
        DEAL_OUT.validate_python(deal_service.out(deal, stock)), mode="json"
    )
    response = await idem.commit(ctx, 201, body_out)
    if response.status_code == 201 and response.headers.get("idempotent-replayed") is None:
        await ctx.services.realtime.publish(
            show.id, "deal.started", deal_service.event_data(deal, deal.quantity)
        )
    return response


@router.get("/api/v1/deals/{deal_id}", response_model=DealOut, responses=responses(404))
async def get_deal(ctx: ShowsRead, deal_id: str) -> DealOut:
    deal = await deal_service.get_deal(ctx.db, ctx.vendor_id, deal_id)
    stock = (await deal_service.stock_of(ctx.db, [deal.id])).get(deal.id)
    return deal_service.out(deal, stock)


@router.post(
    "/api/v1/deals/{deal_id}/end",
    response_model=DealOut,
    responses=responses(404, 409, 422),
    description="Stop new claims now. Held reservations stay valid until their holds run "
    "out; with `reason: cancelled` they are released too.",
)
async def end_deal(ctx: ShowsWrite, deal_id: str, body: DealEndIn) -> DealOut:
    deal = await deal_service.get_deal(ctx.db, ctx.vendor_id, deal_id)
    returned = await deal_service.end_deal(ctx.db, deal, body.reason)
    await ctx.services.commerce.ended(ctx.db, deal, returned)
    if returned is not None:
        await ctx.services.commerce.units_returned(returned)
    stock = (await deal_service.stock_of(ctx.db, [deal.id])).get(deal.id)
    return deal_service.out(deal, stock)


# -- reservations (the vendor's checkout) -----------------------------------------


class ReservationList(BaseModel):
    data: list[ReservationOut]


@router.get("/api/v1/reservations", response_model=ReservationList, responses=responses(422))
async def list_reservations(
    ctx: ShowsRead,
    deal_id: Annotated[str | None, Query(max_length=40)] = None,
    shopper_id: Annotated[str | None, Query(max_length=80)] = None,
    status: ReservationStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    rows = await rsv.list_reservations(
        ctx.db, ctx.vendor_id, deal_id=deal_id, shopper_id=shopper_id, status=status, limit=limit
    )
    return {"data": [rsv.row_out(r) for r in rows]}


@router.get(
    "/api/v1/reservations/{reservation_id}",
    response_model=ReservationOut,
    responses=responses(404),
)
async def get_reservation(ctx: ShowsRead, reservation_id: str) -> ReservationOut:
    return rsv.row_out(await rsv.get_reservation(ctx.db, ctx.vendor_id, reservation_id))


@router.post(
    "/api/v1/reservations/{reservation_id}/confirm",
    response_model=ReservationOut,
    responses=responses(400, 404, 409, 422),
    description="Your checkout took the order: the units are sold. 409 `reservation_expired` "
    "when the hold ran out first (its units went back to the deal). Repeating the call "
    "with the same `order_ref` changes nothing. Also records the order (or adds the "
    "reservation to the order with this `order_ref`), attributed to the deal's show.",
)
async def confirm(ctx: OrdersWrite, reservation_id: str, body: ConfirmIn) -> ReservationOut:
    row = await rsv.get_reservation(ctx.db, ctx.vendor_id, reservation_id)
    if await rsv.confirm(ctx.db, row, body):
        await enqueue(ctx.db, ctx.vendor_id, "reservation.confirmed", rsv.row_out(row))
        await orders.announce(ctx.db, await orders.record_confirmation(ctx.db, row, body))
        await ctx.services.commerce.confirmed(ctx.db, row)
    return rsv.row_out(row)


@router.post(
    "/api/v1/reservations/{reservation_id}/release",
    response_model=ReservationOut,
    responses=responses(404, 409),
    description="The shopper will not buy: the units go back to the deal (waitlist first).",
)
async def release(ctx: OrdersWrite, reservation_id: str) -> ReservationOut:
    row = await rsv.get_reservation(ctx.db, ctx.vendor_id, reservation_id)
    await ctx.services.commerce.release(ctx.db, row)
    return rsv.row_out(row)
