"""The Storefront API: what a shopper's browser (the embed) calls.

No vendor credentials here. A shopper is either a guest, known by the signed
guest token the show socket hands out (or ``POST /storefront/guests``), sent as
``X-Pasar-Guest``; or a shopper the vendor's site vouches for with a short-lived
JWT signed with the vendor's shopper secret, sent as ``X-Pasar-Shopper``. Both
are explicit headers, never cookies, so CORS answers every origin (``*``); yet a
shopper action sent from a browser page (claims, the waitlist, reservations, the
hosted cart, clicks) must come from Pasar's own pages or one of the vendor's
allowed embed origins, as the show socket requires: 403 ``origin_not_allowed``
otherwise. Reading a show or a deal stays open to anyone.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse, Response

from pasar.commerce import claims, throttle
from pasar.commerce import deals as deal_service
from pasar.commerce import reservations as rsv
from pasar.commerce.claims import Shopper
from pasar.commerce.errors import CommerceError
from pasar.commerce.ledger import DealTerms
from pasar.commerce.models import Reservation
from pasar.commerce.schemas import (
    ClaimIn,
    DealOut,
    GuestOut,
    ReservationOut,
    WaitlistIn,
    WaitlistOut,
)
from pasar.engagement import identity
from pasar.netaddr import client_key
from pasar.services import Services
from pasar.web.claiming import answer_claim
from pasar.web.deps import get_services
from pasar.web.errors import responses
from pasar.web.shopper import GuestHeader, ShopperCredentials, ShopperDep, guest_identity

router = APIRouter(prefix="/api/v1/storefront", tags=["storefront"])
ServicesDep = Annotated[Services, Depends(get_services)]


async def _terms(services: Services, deal_id: str) -> DealTerms:
    if not 1 <= len(deal_id) <= 40:
        raise CommerceError.not_found("deal")
    return await services.commerce.terms(deal_id)


async def _deal_and_shopper(
    services: Services, deal_id: str, shopper: ShopperCredentials
) -> tuple[DealTerms, Shopper]:
    """The deal's terms and the shopper acting at its vendor (401/403 else)."""
    terms = await _terms(services, deal_id)
    return terms, await shopper.for_vendor(terms.vendor_id)


def _ip(request: Request) -> str:
    return client_key(request.client.host if request.client else None)


@router.post(
    "/guests",
    response_model=GuestOut,
    status_code=201,
    responses={
        200: {"model": GuestOut, "description": "The same guest, renewed."},
        **responses(401, 429),
    },
    description=(
        "A new guest (201). With `X-Pasar-Guest` set to an unexpired guest token: the same "
        "guest with a renewed token (200). Guest tokens expire `PASAR_GUEST_TOKEN_DAYS` "
        "(30) days after they were issued; an expired one is 401 `guest_token_expired` "
        "(ask again without it for a new guest). New guests: at most "
        "`PASAR_GUEST_MINTS_PER_IP` a minute per IP address (429 `too_many_guests` with "
        "`Retry-After`); renewing is not counted."
    ),
)
async def new_guest(
    services: ServicesDep, request: Request, guest: GuestHeader = None
) -> JSONResponse:
    if guest:
        who, status = guest_identity(services, guest), 200
    else:
        limit = services.settings.guest_mints_per_ip
        await services.commerce.throttle.check(
            throttle.GUESTS_PER_IP, f"guest:ip:{_ip(request)}", limit
        )
        lifetime = services.settings.guest_token_lifetime_s
        who, status = identity.new_guest(services.server_secret, lifetime), 201
    assert who.guest_token is not None
    data = {
        "guest_token": who.guest_token,
        "id": who.id,
        "name": who.name,
        "expires_at": identity.guest_token_expiry(who.guest_token).isoformat(),
    }
    return JSONResponse(data, status_code=status)


@router.get("/deals/{deal_id}", response_model=DealOut, responses=responses(404))
async def get_deal(services: ServicesDep, deal_id: str) -> DealOut:
    terms = await _terms(services, deal_id)
    async with services.db.session() as db:
        deal = await deal_service.get_deal(db, terms.vendor_id, terms.id)
        stock = (await deal_service.stock_of(db, [deal.id])).get(deal.id)
    data = deal_service.out(deal, stock)
    left = await services.commerce.engine.units_left(deal.id)
    if left is not None:
        data["units_left"] = left
    return data


@router.post(
    "/deals/{deal_id}/claims",
    response_model=ReservationOut,
    status_code=201,
    responses=responses(400, 401, 403, 404, 409, 422, 429, 503),
    description=(
        "Claim units of a flash deal. `Idempotency-Key` is required: retrying with it "
        "never reserves twice and answers with the same reservation (200, "
        "`Idempotent-Replayed: true`). A refusal is 409 (403 for `not_allowed`) with "
        "`error.code` one of `sold_out`, `limit_reached`, `not_started`, `ended`, "
        "`not_allowed`; `details.waitlist` says whether joining the waitlist can help. "
        "Refusals are not remembered: the same key may succeed later. Too many claims "
        "from one IP address or one shopper in a minute: 429 `too_many_claims` with "
        "`Retry-After`."
    ),
)
async def claim(
    services: ServicesDep,
    request: Request,
    deal_id: str,
    body: ClaimIn,
    shopper: ShopperDep,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> JSONResponse:
    # Served by pasar.web.fast_claims; this declaration documents it and answers
    # what the fast handler leaves to FastAPI (input that does not validate).
    answer = await answer_claim(services, _ip(request), deal_id, body, shopper, idempotency_key)
    return JSONResponse(answer.body, status_code=answer.status, headers=answer.headers)


@router.post(
    "/deals/{deal_id}/waitlist",
    response_model=WaitlistOut,
    status_code=201,
    responses=responses(400, 401, 403, 404, 409, 422),
    description="Wait for units other shoppers hold: when a hold runs out or is released, "
    "the next shopper in line gets a reservation (`waitlist.granted` on their socket).",
)
async def join_waitlist(
    services: ServicesDep,
    deal_id: str,
    body: WaitlistIn,
    shopper: ShopperDep,
) -> JSONResponse:
    terms, who = await _deal_and_shopper(services, deal_id, shopper)
    async with services.db.session() as db:
        place = await claims.join_waitlist(db, terms, who, body.variant_id, body.quantity)
        await db.commit()
    out = rsv.waitlist_out(place.entry, place.position)
    data = WaitlistOut.model_validate(out).model_dump(mode="json")
    return JSONResponse(data, status_code=201 if place.created else 200)


@router.get(
    "/deals/{deal_id}/waitlist",
    response_model=WaitlistOut,
    responses=responses(401, 404),
    description="The caller's place on the deal's waitlist: `position` while waiting "
    "(1 is next), `reservation_id` once granted.",
)
async def my_waitlist_place(
    services: ServicesDep,
    deal_id: str,
    shopper: ShopperDep,
) -> dict[str, Any]:
    terms, who = await _deal_and_shopper(services, deal_id, shopper)
    async with services.db.session() as db:
        entry = await rsv.waitlist_entry(db, terms.id, who.id)
        return rsv.waitlist_out(entry, await rsv.waitlist_position(db, entry))


@router.delete(
    "/deals/{deal_id}/waitlist",
    status_code=204,
    responses=responses(401, 404, 409),
    description="Leave the deal's waitlist (409 `not_waiting` once granted or lapsed).",
)
async def leave_waitlist(
    services: ServicesDep,
    deal_id: str,
    shopper: ShopperDep,
) -> Response:
    terms, who = await _deal_and_shopper(services, deal_id, shopper)
    async with services.db.session() as db:
        await rsv.leave_waitlist(db, terms.id, who.id)
        await db.commit()
    return Response(status_code=204)


async def _own_reservation(
    services: Services, reservation_id: str, shopper: ShopperCredentials
) -> Reservation:
    """The caller's reservation; anyone else's is 'not found'. (The shopper is
    identified outside any open session: SQLite allows one writer at a time.)"""
    if not 1 <= len(reservation_id) <= 40:
        raise CommerceError.not_found("reservation")
    async with services.db.session() as db:
        row = await db.get(Reservation, reservation_id)
    if row is None:
        raise CommerceError.not_found("reservation")
    who = await shopper.for_vendor(row.vendor_id)
    if row.shopper_id != who.id:
        raise CommerceError.not_found("reservation")
    return row


@router.get(
    "/reservations/{reservation_id}",
    response_model=ReservationOut,
    responses=responses(401, 404),
)
async def my_reservation(
    services: ServicesDep,
    reservation_id: str,
    shopper: ShopperDep,
) -> ReservationOut:
    row = await _own_reservation(services, reservation_id, shopper)
    data = rsv.row_out(row)
    if row.status == "held":
        data["checkout_url"] = await services.commerce.checkout_url(
            [{**data, "vendor_id": row.vendor_id}], row.show_id
        )
    return data


@router.post(
    "/reservations/{reservation_id}/release",
    response_model=ReservationOut,
    responses=responses(401, 404, 409),
)
async def release_mine(
    services: ServicesDep,
    reservation_id: str,
    shopper: ShopperDep,
) -> ReservationOut:
    mine = await _own_reservation(services, reservation_id, shopper)
    async with services.db.session() as db:
        row = await rsv.get_reservation(db, mine.vendor_id, mine.id)
        await services.commerce.release(db, row)
    return rsv.row_out(row)
