"""Coupons: vendor-defined codes, posted during shows, redeemed by the vendor's checkout."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import JSONResponse

from pasar.commerce import coupons as coupon_service
from pasar.commerce.schemas import (
    CouponIn,
    CouponOut,
    CouponPage,
    CouponPatch,
    CouponPostOut,
    DiscountOut,
    RedeemIn,
    RedemptionOut,
    ValidateIn,
)
from pasar.shows.service import get_show
from pasar.web.deps import (
    OrdersWrite,
    PageParams,
    ShowsRead,
    ShowsWrite,
    page_params,
)
from pasar.web.errors import responses
from pasar.web.idempotency import REPLAY_HEADER, IdempotencyDep

router = APIRouter(prefix="/api/v1", tags=["coupons"], responses=responses(401, 403))


def _out(coupon: Any) -> dict[str, Any]:
    return CouponOut.model_validate(coupon_service.coupon_out(coupon)).model_dump(mode="json")


@router.post(
    "/coupons",
    response_model=CouponOut,
    status_code=201,
    responses=responses(400, 404, 409, 422),
    description="A percentage (1–100) or fixed amount off, optionally for one show, with "
    "usage limits and a validity window. Codes are unique per shop, whatever their case.",
)
async def create_coupon(ctx: ShowsWrite, body: CouponIn, idem: IdempotencyDep) -> JSONResponse:
    if (replayed := await idem.replay(ctx)) is not None:
        return replayed
    coupon = await coupon_service.create_coupon(ctx.db, ctx.vendor_id, body)
    return await idem.commit(ctx, 201, _out(coupon))


@router.get("/coupons", response_model=CouponPage, responses=responses(400, 422))
async def list_coupons(
    ctx: ShowsRead,
    page: Annotated[PageParams, Depends(page_params)],
    show_id: Annotated[str | None, Query(max_length=40, description="Coupons of one show.")] = None,
    active: bool | None = None,
) -> dict[str, Any]:
    found = await coupon_service.list_coupons(
        ctx.db, ctx.vendor_id, show_id=show_id, active=active, cursor=page.cursor, limit=page.limit
    )
    return {
        "data": [coupon_service.coupon_out(c) for c in found.items],
        "next_cursor": found.next_cursor,
    }


@router.get("/coupons/{coupon_id}", response_model=CouponOut, responses=responses(404))
async def get_coupon(ctx: ShowsRead, coupon_id: str) -> dict[str, Any]:
    return coupon_service.coupon_out(
        await coupon_service.get_coupon(ctx.db, ctx.vendor_id, coupon_id)
    )


@router.patch("/coupons/{coupon_id}", response_model=CouponOut, responses=responses(400, 404, 422))
async def update_coupon(ctx: ShowsWrite, coupon_id: str, body: CouponPatch) -> dict[str, Any]:
    coupon = await coupon_service.get_coupon(ctx.db, ctx.vendor_id, coupon_id)
    await coupon_service.update_coupon(ctx.db, coupon, body)
    out = _out(coupon)
    await ctx.db.commit()
    return out


@router.delete("/coupons/{coupon_id}", status_code=204, responses=responses(404))
async def delete_coupon(ctx: ShowsWrite, coupon_id: str) -> Response:
    coupon = await coupon_service.get_coupon(ctx.db, ctx.vendor_id, coupon_id)
    await coupon_service.delete_coupon(ctx.db, coupon)
    await ctx.db.commit()
    return Response(status_code=204)


@router.post(
    "/shows/{show_id}/coupons/{coupon_id}/post",
    response_model=CouponPostOut,
    status_code=201,
    responses=responses(404, 409),
    description="Show the coupon to every viewer now (`coupon.posted`, with the code to "
    "copy); the Storefront lists it while it can be used. A coupon of another show is "
    "not found here.",
)
async def post_coupon(ctx: ShowsWrite, show_id: str, coupon_id: str) -> dict[str, Any]:
    show = await get_show(ctx.db, ctx.vendor_id, show_id)
    coupon = await coupon_service.in_show(ctx.db, show, coupon_id)
    post = await coupon_service.post_coupon(
        ctx.db, show, coupon, f"{ctx.principal.kind}:{ctx.principal.actor_id}"
    )
    out = {
        "id": post.id,
        "coupon_id": coupon.id,
        "show_id": show.id,
        "posted_at": post.posted_at,
        "coupon": coupon_service.coupon_out(coupon),
    }
    data = coupon_service.posted_data(coupon)
    await ctx.db.commit()
    await ctx.services.realtime.publish(show.id, "coupon.posted", data)
    return out


@router.post(
    "/coupons/validate",
    response_model=DiscountOut,
    responses=responses(400, 404, 409, 422),
    description="What the code takes off `amount` now, without using it. Refusals are the "
    "same as redeeming's.",
)
async def validate_coupon(ctx: OrdersWrite, body: ValidateIn) -> dict[str, Any]:
    return (await coupon_service.validate(ctx.db, ctx.vendor_id, body)).out()


@router.post(
    "/coupons/redeem",
    response_model=RedemptionOut,
    status_code=201,
    responses={
        200: {"model": RedemptionOut, "description": "Redeemed before for this order_ref."},
        **responses(400, 404, 409, 422),
    },
    description=(
        "Use the coupon for an order: answers the discount in minor units. Limits hold under "
        "any concurrency. Refusals: 404 `coupon_not_found`; 409 `coupon_inactive`, "
        "`coupon_not_started`, `coupon_ended`, `coupon_exhausted`, `coupon_limit_reached`, "
        "`coupon_wrong_show`, `already_redeemed`; 400 `currency_mismatch`, "
        "`shopper_required`. Redeeming again for the same `order_ref` answers the first "
        "redemption (200, `Idempotent-Replayed: true`) and uses nothing."
    ),
)
async def redeem_coupon(ctx: OrdersWrite, body: RedeemIn) -> JSONResponse:
    row, coupon, replayed = await coupon_service.redeem(ctx.db, ctx.vendor_id, body)
    out = RedemptionOut.model_validate(coupon_service.redemption_out(row, coupon)).model_dump(
        mode="json"
    )
    if replayed:
        return JSONResponse(out, status_code=200, headers={REPLAY_HEADER: "true"})
    await ctx.db.commit()
    return JSONResponse(out, status_code=201)
