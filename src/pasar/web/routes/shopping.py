"""The Storefront API's shopping side: clicks (attribution), posted coupons, hosted cart.

Same rules as ``storefront.py``: no vendor credentials, the shopper is named by
``X-Pasar-Guest`` or ``X-Pasar-Shopper``, and CORS is open. The shopper is
identified outside any open session (SQLite allows one writer at a time).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Response

from pasar.catalog.models import Product
from pasar.clock import utcnow
from pasar.commerce import carts, clicks
from pasar.commerce import coupons as coupon_service
from pasar.commerce import pins as pin_service
from pasar.commerce.schemas import (
    CheckoutOut,
    ClickIn,
    ClickOut,
    HostedCartIn,
    HostedCartOut,
    PostedCouponOut,
)
from pasar.services import Services
from pasar.web.deps import find_show, get_services
from pasar.web.errors import responses
from pasar.web.shopper import ShopperCredentials, ShopperDep

router = APIRouter(prefix="/api/v1/storefront", tags=["storefront"])
ServicesDep = Annotated[Services, Depends(get_services)]
Slug = Annotated[str, Path(min_length=1, max_length=64)]
CART = "/vendors/{vendor_slug}/cart"


def _image(services: Services) -> Callable[[Product], str | None]:
    storage = services.storage
    return lambda product: pin_service.first_image_url(product, storage)


# -- clicks ----------------------------------------------------------------------------


@router.post(
    "/shows/{show_id}/clicks",
    response_model=ClickOut,
    status_code=201,
    responses=responses(400, 401, 404, 422),
    description=(
        "The shopper tapped a product (or buy) in the player: answers a signed click token "
        "naming the show, product, the pin on screen now, the time and the shopper. The "
        "embed hands it to the shop with add-to-cart/checkout; the shop sends it back as "
        "`pasar_click` with the order, which attributes the sale without cookies. "
        "Good for 7 days. Shopper headers are optional (anonymous click without them)."
    ),
)
async def click(
    services: ServicesDep,
    show_id: str,
    body: ClickIn,
    shopper: ShopperDep,
) -> dict[str, Any]:
    show = await find_show(services, show_id)
    await services.commerce.check_origin(show.vendor_id, shopper.origin)
    now = utcnow()
    async with services.db.session() as db:
        pin_id = await clicks.pin_clicked(db, show, body.product_id, body.variant_id, now)
    shopper_id = None
    if shopper.given:
        shopper_id = (await shopper.for_vendor(show.vendor_id)).id
    found = clicks.Click(
        vendor_id=show.vendor_id,
        show_id=show.id,
        product_id=body.product_id,
        variant_id=body.variant_id,
        pin_id=pin_id,
        shopper_id=shopper_id,
        at=now,
    )
    return {
        "click_token": clicks.sign(services.server_secret, found),
        "show_id": found.show_id,
        "product_id": found.product_id,
        "variant_id": found.variant_id,
        "pin_id": found.pin_id,
        "shopper_id": found.shopper_id,
        "clicked_at": found.at,
        "expires_at": found.expires_at,
    }


# -- coupons posted in a show -----------------------------------------------------------


@router.get(
    "/shows/{show_id}/coupons",
    response_model=list[PostedCouponOut],
    responses=responses(404),
    description="Coupons staff posted in the show that can still be used, latest first: "
    "show each code with a copy button.",
)
async def posted_coupons(services: ServicesDep, show_id: str) -> list[dict[str, Any]]:
    show = await find_show(services, show_id)
    async with services.db.session() as db:
        return await coupon_service.posted_in_show(db, show.id)


# -- the hosted cart ----------------------------------------------------------------------


async def _vendor_and_shopper(shopper: ShopperCredentials, slug: str) -> tuple[str, str]:
    async with shopper.services.db.session() as db:
        vendor = await carts.vendor_by_slug(db, slug)
    who = await shopper.for_vendor(vendor.id)
    return vendor.id, who.id


async def _cart_out(services: Services, vendor_id: str, shopper_id: str) -> dict[str, Any]:
    async with services.db.session() as db:
        cart = await carts.get_cart(db, vendor_id, shopper_id)
        lines = await carts.priced_lines(
            db, vendor_id, shopper_id, cart.lines if cart else [], _image(services), utcnow()
        )
        return carts.cart_out(vendor_id, shopper_id, cart, lines)


@router.get(
    CART,
    response_model=HostedCartOut,
    responses=responses(401, 404),
    description="The shopper's cart at this shop, priced now (an empty cart when there is "
    "none). A line that cannot be bought now says why in `problem`; `subtotal` and "
    "`item_count` count the other lines.",
)
async def get_cart(
    services: ServicesDep,
    vendor_slug: Slug,
    shopper: ShopperDep,
) -> dict[str, Any]:
    vendor_id, shopper_id = await _vendor_and_shopper(shopper, vendor_slug)
    return await _cart_out(services, vendor_id, shopper_id)


@router.put(
    CART,
    response_model=HostedCartOut,
    responses=responses(400, 401, 404, 409, 422),
    description=(
        "Replace the cart's lines: `{variant_id, quantity}`, or `{reservation_id}` for a "
        "flash-deal claim (your own held reservation; its quantity and price apply). Prices "
        "come from the catalog. A bad line refuses the whole request with its index in "
        "`details.line` (404 `not_found`, 409 `out_of_stock`, `unavailable`, "
        "`reservation_expired`, 400 `currency_mismatch` …) and changes nothing."
    ),
)
async def put_cart(
    services: ServicesDep,
    vendor_slug: Slug,
    body: HostedCartIn,
    shopper: ShopperDep,
) -> dict[str, Any]:
    vendor_id, shopper_id = await _vendor_and_shopper(shopper, vendor_slug)
    async with services.db.session() as db:
        await carts.put_cart(db, services.server_secret, vendor_id, shopper_id, body)
        await db.commit()
    return await _cart_out(services, vendor_id, shopper_id)


@router.delete(CART, status_code=204, responses=responses(401, 404))
async def empty_cart(
    services: ServicesDep,
    vendor_slug: Slug,
    shopper: ShopperDep,
) -> Response:
    vendor_id, shopper_id = await _vendor_and_shopper(shopper, vendor_slug)
    async with services.db.session() as db:
        await carts.clear_cart(db, vendor_id, shopper_id)
        await db.commit()
    return Response(status_code=204)


@router.post(
    f"{CART}/checkout",
    response_model=CheckoutOut,
    responses=responses(400, 401, 404, 409),
    description=(
        "Hand the cart to the shop's checkout: answers `checkout_url` (the shop's URL "
        "template filled with the lines, reservation ids and/or a signed `cart_token`); "
        "send the shopper there. 409 `no_checkout` when the shop has no template, "
        "`cart_empty`, or `cart_invalid` with the lines to fix. Emits `cart.checkout`."
    ),
)
async def checkout(
    services: ServicesDep,
    vendor_slug: Slug,
    shopper: ShopperDep,
) -> dict[str, Any]:
    _, shopper_id = await _vendor_and_shopper(shopper, vendor_slug)
    async with services.db.session() as db:
        vendor = await carts.vendor_by_slug(db, vendor_slug)
        handed = await carts.check_out(
            db, services.server_secret, vendor, shopper_id, _image(services)
        )
        out = {
            "checkout_id": handed.checkout.id,
            "checkout_url": handed.url,
            "cart_token": handed.token,
            "expires_at": handed.checkout.expires_at,
        }
        await db.commit()
    services.commerce.nudge_webhooks()
    return out
