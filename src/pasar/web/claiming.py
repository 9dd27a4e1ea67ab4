"""A claim's answer over HTTP, whichever handler received it.

``POST /api/v1/storefront/deals/{deal_id}/claims`` is served by the fast handler
(``pasar.web.fast_claims``) and, for whatever that handler leaves to FastAPI
(invalid input), by the declared route (``routes.storefront.claim``); both call
``answer_claim``, so the rules, their order and the answers are one code path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter

from pasar.commerce import claims, throttle
from pasar.commerce import reservations as rsv
from pasar.commerce.errors import CommerceError
from pasar.commerce.schemas import ClaimIn, ReservationOut
from pasar.services import Services
from pasar.web.idempotency import REPLAY_HEADER
from pasar.web.shopper import ShopperCredentials

RESERVATION_OUT = TypeAdapter(ReservationOut)
MAX_DEAL_ID = 40
REPLAYED = {REPLAY_HEADER: "true"}


@dataclass(frozen=True, slots=True)
class Answer:
    """A JSON answer: status, body, extra headers."""

    status: int
    body: Any
    headers: dict[str, str] | None = None


async def answer_claim(
    services: Services,
    ip: str,
    deal_id: str,
    body: ClaimIn,
    shopper: ShopperCredentials,
    idempotency_key: str | None,
) -> Answer:
    """The answer to a valid claim request; a refusal or error raises ``CommerceError``."""
    commerce, settings = services.commerce, services.settings
    limits = commerce.throttle
    # The address first, before any token is checked or deal looked up: a flood costs little.
    await limits.check(throttle.CLAIMS_PER_IP, f"claim:ip:{ip}", settings.claims_per_ip)
    if not 1 <= len(deal_id) <= MAX_DEAL_ID:
        raise CommerceError.not_found("deal")
    terms = await commerce.terms(deal_id)
    who = await shopper.for_vendor(terms.vendor_id)
    await limits.check(
        throttle.CLAIMS_PER_SHOPPER, f"claim:shopper:{who.id}", settings.claims_per_shopper
    )
    if not idempotency_key:
        raise CommerceError(
            "invalid",
            "idempotency_key_required",
            "send an Idempotency-Key header (a new random value per tap; the same on retry)",
        )
    outcome = await commerce.claim(
        terms, who, idempotency_key, body.variant_id, body.quantity, body.pin_id
    )
    if outcome.conflict:
        error = {
            "code": "idempotency_key_reused",
            "message": "this Idempotency-Key was used with a different claim",
            "details": None,
        }
        return Answer(409, {"error": error})
    if outcome.reservation is not None:
        url = await commerce.checkout_url([outcome.reservation], terms.show_id)
        shown = RESERVATION_OUT.validate_python(rsv.row_out(outcome.reservation, url))
        data = RESERVATION_OUT.dump_python(shown, mode="json")
        if outcome.replayed:
            return Answer(200, data, REPLAYED)
        return Answer(201, data)
    raise claims.refusal_error(outcome)
