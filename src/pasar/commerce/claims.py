"""The rules a shopper's claim and waitlist place answer by, and how a refusal reads.

``Commerce.claim`` answers a claim on the hot path; the waitlist is joined here.
Both take the deal's cached ``DealTerms`` and the ``Shopper`` the request acts for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from pasar.commerce import deals as deal_service
from pasar.commerce import reservations as rsv
from pasar.commerce.errors import CommerceError
from pasar.commerce.ledger import DealTerms, Outcome, Refusal
from pasar.commerce.models import WaitlistEntry
from pasar.errors import ErrorKind

REFUSAL_MESSAGES: dict[Refusal, str] = {
    "sold_out": "every unit of this deal is taken",
    "limit_reached": "you already hold as many units of this deal as one shopper may",
    "not_started": "the deal has not started yet",
    "ended": "the deal has ended",
    "not_allowed": "sign in on the shop's site to claim this deal",
}
REFUSAL_KINDS: dict[Refusal, ErrorKind] = {"not_allowed": "forbidden"}  # the others: conflict


@dataclass(frozen=True, slots=True)
class Shopper:
    id: str  # 'guest:…' or 'shopper:…' (vouched by the vendor)
    signed_in: bool


@dataclass(frozen=True, slots=True)
class WaitlistPlace:
    entry: WaitlistEntry
    position: int | None
    created: bool  # False: the shopper was already waiting (the same place)


def refusal_error(outcome: Outcome) -> CommerceError:
    """The error a refused claim answers with; ``details.waitlist`` says whether
    joining the waitlist can help."""
    reason = outcome.refusal or "ended"
    details: dict[str, Any] = {"reason": reason}
    if reason == "sold_out":
        details["units_left"] = outcome.units_left
        details["waitlist"] = outcome.held != 0
    kind = REFUSAL_KINDS.get(reason, "conflict")
    return CommerceError(kind, reason, REFUSAL_MESSAGES[reason], details)


def pick_variant(terms: DealTerms, variant_id: str | None) -> str:
    """The deal's variant the shopper means: named, or the deal's only one."""
    if variant_id is None:
        if len(terms.variant_ids) != 1:
            raise CommerceError(
                "invalid",
                "variant_required",
                "this deal covers several variants: say which one",
                {"variant_ids": list(terms.variant_ids)},
            )
        return terms.variant_ids[0]
    if variant_id not in terms.variant_ids:
        raise CommerceError(
            "invalid",
            "unknown_variant",
            "the variant is not part of this deal",
            {"variant_ids": list(terms.variant_ids)},
        )
    return variant_id


async def join_waitlist(
    db: AsyncSession, terms: DealTerms, shopper: Shopper, variant_id: str | None, quantity: int
) -> WaitlistPlace:
    """A place in line for units others hold, under the same terms as a claim."""
    variant_id = pick_variant(terms, variant_id)
    if quantity > terms.per_shopper_limit:
        raise CommerceError(
            "invalid", "over_limit", f"at most {terms.per_shopper_limit} per shopper"
        )
    if terms.signed_in_only and not shopper.signed_in:
        raise CommerceError("forbidden", "not_allowed", REFUSAL_MESSAGES["not_allowed"])
    deal = await deal_service.get_deal(db, terms.vendor_id, terms.id)
    if deal_service.status(deal) == "ended":
        raise CommerceError("conflict", "ended", REFUSAL_MESSAGES["ended"])
    entry, created = await rsv.join_waitlist(db, deal, shopper.id, variant_id, quantity)
    return WaitlistPlace(entry, await rsv.waitlist_position(db, entry), created)
