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

from pasar.commerce import deals as deal_service
from pasar.commerce import reservations as rsv
from pasar.commerce import throttle
from pasar.commerce.errors import CommerceError
from pasar.commerce.ledger import DealTerms
from pasar.commerce.live import Shopper
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
from pasar.web.deps import get_services
from pasar.web.errors import error_response, responses
from pasar.web.idempotency import REPLAY_HEADER

router = APIRouter(prefix="/api/v1/storefront", tags=["storefront"])
REFUSAL_STATUS = {"not_allowed": 403}
REFUSAL_MESSAGES = {
    "sold_out": "every unit of this deal is taken",
    "limit_reached": "you already hold as many units of this deal as one shopper may",
    "not_started": "the deal has not started yet",
    "ended": "the deal has ended",
    "not_allowed": "sign in on the shop's site to claim this deal",
}
GuestHeader = Annotated[
    str | None,
    Header(
        alias="X-Pasar-Guest",
        max_length=200,
        description="A guest token (from the show socket's snapshot or POST /storefront/guests).",
    ),
]
ShopperHeader = Annotated[
    str | None,
    Header(
        alias="X-Pasar-Shopper",
        max_length=4000,
        description="A shopper token your site signs (HS256 JWT with `sub`, `exp`).",
    ),
]
# The page a browser sends the request from: shopper actions only from Pasar's own
# pages and the vendor's allowed embed origins (no Origin: not a browser, allowed).
OriginHeader = Annotated[str | None, Header(alias="Origin", include_in_schema=False)]
ServicesDep = Annotated[Services, Depends(get_services)]


async def _shopper(
    services: Services,
    vendor_id: str,
    guest: str | None,
    token: str | None,
    origin: str | None = None,
) -> Shopper:
    await services.commerce.check_origin(vendor_id, origin)
    try:
        if token:
            secret = await services.commerce.shopper_secret(vendor_id)
            who = identity.shopper_from_jwt(secret, token)
            return Shopper(who.id, signed_in=True)
    except identity.IdentityError as exc:
        raise CommerceError("unauthorized", "bad_shopper_token", str(exc)) from exc
    if guest:
        return Shopper(_guest(services, guest).id, False)
    raise CommerceError(
        "unauthorized",
        "shopper_required",
        "send X-Pasar-Guest (a guest token) or X-Pasar-Shopper (a token your site signs)",
    )


def _guest(services: Services, token: str) -> identity.Identity:
    """The guest an ``X-Pasar-Guest`` token names (with a renewed token), or 401."""
    try:
        return identity.guest_from_token(
            services.server_secret, token, services.settings.guest_token_lifetime_s
        )
    except identity.GuestTokenExpired as exc:
        raise CommerceError("unauthorized", "guest_token_expired", str(exc)) from exc
    except identity.IdentityError as exc:
        raise CommerceError("unauthorized", "bad_shopper_token", str(exc)) from exc


async def _terms(services: Services, deal_id: str) -> DealTerms:
    if not 1 <= len(deal_id) <= 40:
        raise CommerceError.not_found("deal")
    return await services.commerce.terms(deal_id)


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
        who, status = _guest(services, guest), 200
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
async def get_deal(services: ServicesDep, deal_id: str) -> dict[str, Any]:
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
    guest: GuestHeader = None,
    shopper_token: ShopperHeader = None,
    origin: OriginHeader = None,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> JSONResponse:
    limits, settings = services.commerce.throttle, services.settings
    # The address first, before any token is checked or deal looked up: a flood costs little.
    await limits.check(throttle.CLAIMS_PER_IP, f"claim:ip:{_ip(request)}", settings.claims_per_ip)
    terms = await _terms(services, deal_id)
    who = await _shopper(services, terms.vendor_id, guest, shopper_token, origin)
    await limits.check(
        throttle.CLAIMS_PER_SHOPPER, f"claim:shopper:{who.id}", settings.claims_per_shopper
    )
    if not idempotency_key:
        raise CommerceError(
            "invalid",
            "idempotency_key_required",
            "send an Idempotency-Key header (a new random value per tap; the same on retry)",
        )
    outcome = await services.commerce.claim(
        terms, who, idempotency_key, body.variant_id, body.quantity, body.pin_id
    )
    if outcome.conflict:
        return error_response(
            409,
            "idempotency_key_reused",
            "this Idempotency-Key was used with a different claim",
        )
    if outcome.reservation is not None:
        data = ReservationOut.model_validate(
            rsv.row_out(
                outcome.reservation,
                await services.commerce.checkout_url([outcome.reservation], terms.show_id),
            )
        ).model_dump(mode="json")
        if outcome.replayed:
            return JSONResponse(data, status_code=200, headers={REPLAY_HEADER: "true"})
        return JSONResponse(data, status_code=201)
    reason = outcome.refusal or "ended"
    details: dict[str, Any] = {"reason": reason}
    if reason == "sold_out":
        details["units_left"] = outcome.units_left
        details["waitlist"] = outcome.held != 0
    return error_response(
        REFUSAL_STATUS.get(reason, 409), reason, REFUSAL_MESSAGES[reason], details
    )


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
    guest: GuestHeader = None,
    shopper_token: ShopperHeader = None,
    origin: OriginHeader = None,
) -> JSONResponse:
    terms = await _terms(services, deal_id)
    who = await _shopper(services, terms.vendor_id, guest, shopper_token, origin)
    variant_id = services.commerce.pick_variant(terms, body.variant_id)
    if body.quantity > terms.per_shopper_limit:
        raise CommerceError(
            "invalid", "over_limit", f"at most {terms.per_shopper_limit} per shopper"
        )
    if terms.signed_in_only and not who.signed_in:
        raise CommerceError("forbidden", "not_allowed", REFUSAL_MESSAGES["not_allowed"])
    async with services.db.session() as db:
        deal = await deal_service.get_deal(db, terms.vendor_id, terms.id)
        if deal_service.status(deal) == "ended":
            raise CommerceError("conflict", "ended", REFUSAL_MESSAGES["ended"])
        entry, created = await rsv.join_waitlist(db, deal, who.id, variant_id, body.quantity)
        position = await rsv.waitlist_position(db, entry)
        await db.commit()
    data = WaitlistOut.model_validate(rsv.waitlist_out(entry, position)).model_dump(mode="json")
    return JSONResponse(data, status_code=201 if created else 200)


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
    guest: GuestHeader = None,
    shopper_token: ShopperHeader = None,
    origin: OriginHeader = None,
) -> dict[str, Any]:
    terms = await _terms(services, deal_id)
    who = await _shopper(services, terms.vendor_id, guest, shopper_token, origin)
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
    guest: GuestHeader = None,
    shopper_token: ShopperHeader = None,
    origin: OriginHeader = None,
) -> Response:
    terms = await _terms(services, deal_id)
    who = await _shopper(services, terms.vendor_id, guest, shopper_token, origin)
    async with services.db.session() as db:
        await rsv.leave_waitlist(db, terms.id, who.id)
        await db.commit()
    return Response(status_code=204)


async def _own_reservation(
    services: Services,
    reservation_id: str,
    guest: str | None,
    token: str | None,
    origin: str | None,
) -> Reservation:
    """The caller's reservation; anyone else's is 'not found'. (The shopper is
    identified outside any open session: SQLite allows one writer at a time.)"""
    if not 1 <= len(reservation_id) <= 40:
        raise CommerceError.not_found("reservation")
    async with services.db.session() as db:
        row = await db.get(Reservation, reservation_id)
    if row is None:
        raise CommerceError.not_found("reservation")
    who = await _shopper(services, row.vendor_id, guest, token, origin)
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
    guest: GuestHeader = None,
    shopper_token: ShopperHeader = None,
    origin: OriginHeader = None,
) -> dict[str, Any]:
    row = await _own_reservation(services, reservation_id, guest, shopper_token, origin)
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
    guest: GuestHeader = None,
    shopper_token: ShopperHeader = None,
    origin: OriginHeader = None,
) -> dict[str, Any]:
    mine = await _own_reservation(services, reservation_id, guest, shopper_token, origin)
    async with services.db.session() as db:
        row = await rsv.get_reservation(db, mine.vendor_id, mine.id)
        await services.commerce.release(db, row)
    return rsv.row_out(row)
