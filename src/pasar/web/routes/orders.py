"""Orders reported by the vendor's checkout, a show's sales, and hosted-cart hand-offs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from pasar.clock import utcnow
from pasar.commerce import carts
from pasar.commerce import orders as order_service
from pasar.commerce.schemas import CartCheckoutOut, OrderIn, OrderOut, OrderPage, SalesOut
from pasar.web.deps import AnalyticsRead, OrdersWrite, PageParams, page_params
from pasar.web.errors import responses
from pasar.web.idempotency import IdempotencyDep

router = APIRouter(prefix="/api/v1", tags=["orders"], responses=responses(401, 403))


def _out(recorded: order_service.Recorded) -> dict[str, Any]:
    return OrderOut.model_validate(order_service.order_out(recorded)).model_dump(mode="json")


@router.post(
    "/orders",
    response_model=OrderOut,
    status_code=201,
    responses={
        200: {"model": OrderOut, "description": "Completed an order made by confirmations."},
        **responses(400, 404, 409, 422),
    },
    description=(
        "Report an order your checkout took. Each line is attributed to a show, the pin "
        "on screen and the deal, from its reservation, a `pasar_click` token, or the "
        "order's `show_id` (see the API guide). `order_ref` is unique per shop: "
        "reporting it again is 409 `order_exists`, except that an order known so far only "
        "from confirmed reservations is completed (200). Honours `Idempotency-Key`. "
        "Emits the `order.attributed` webhook when any line is attributed."
    ),
)
async def report_order(ctx: OrdersWrite, body: OrderIn, idem: IdempotencyDep) -> JSONResponse:
    if (replayed := await idem.replay(ctx)) is not None:
        return replayed
    recorded = await order_service.record(ctx.db, ctx.services.server_secret, ctx.vendor_id, body)
    await order_service.announce(ctx.db, recorded)
    response = await idem.commit(ctx, 201 if recorded.created else 200, _out(recorded))
    ctx.services.commerce.nudge_webhooks()
    return response


@router.get("/orders", response_model=OrderPage, responses=responses(400, 422))
async def list_orders(
    ctx: AnalyticsRead,
    page: Annotated[PageParams, Depends(page_params)],
    show_id: Annotated[
        str | None, Query(max_length=40, description="Orders with a line from this show.")
    ] = None,
) -> dict[str, Any]:
    found = await order_service.list_orders(
        ctx.db, ctx.vendor_id, show_id=show_id, cursor=page.cursor, limit=page.limit
    )
    return {
        "data": [order_service.order_out(r) for r in found.items],
        "next_cursor": found.next_cursor,
    }


@router.get("/orders/{order_id}", response_model=OrderOut, responses=responses(404))
async def get_order(ctx: AnalyticsRead, order_id: str) -> dict[str, Any]:
    return order_service.order_out(await order_service.get_order(ctx.db, ctx.vendor_id, order_id))


@router.get(
    "/shows/{show_id}/sales",
    response_model=SalesOut,
    responses=responses(404),
    description="Revenue from the show's attributed order lines, per currency, product, "
    "pin and deal (sums of line amounts in minor units; never added across currencies).",
)
async def show_sales(ctx: AnalyticsRead, show_id: str) -> dict[str, Any]:
    return await order_service.show_sales(ctx.db, ctx.vendor_id, show_id)


@router.get(
    "/carts/{cart_token}",
    response_model=CartCheckoutOut,
    responses=responses(404),
    description="The hosted cart a shopper checked out, by the `{cart_token}` your checkout "
    "URL received (valid for 30 minutes): its lines, prices and the reservations to "
    "confirm. Server to server, with your API key.",
)
async def get_cart_checkout(ctx: OrdersWrite, cart_token: str) -> dict[str, Any]:
    checkout_id = carts.read_token(ctx.services.server_secret, cart_token, utcnow())
    return carts.checkout_out(await carts.get_checkout(ctx.db, ctx.vendor_id, checkout_id))
