"""Flash deals: creating, reading and ending them (claims live in ``claims.py``)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from pasar.catalog.models import Variant
from pasar.catalog.service import get_product
from pasar.clock import utcnow
from pasar.commerce.errors import CommerceError, same_currency
from pasar.commerce.ledger import DealTerms
from pasar.commerce.models import Deal, DealStock, Reservation, WaitlistEntry, guest_hold
from pasar.commerce.pins import require_active
from pasar.commerce.reservations import Returned, return_units
from pasar.commerce.schemas import DealIn, DealOut, DealStatus
from pasar.db.tenancy import get_owned
from pasar.ids import new_id
from pasar.money import format_money
from pasar.shows.models import Show

DEFAULT_HOLD_SECONDS = 600
OPEN_SHOW_STATES = ("scheduled", "live")


def status(deal: Deal, now: datetime | None = None) -> DealStatus:
    now = now or utcnow()
    if deal.ended_at is not None or now >= deal.ends_at:
        return "ended"
    return "upcoming" if now < deal.starts_at else "live"


def terms(deal: Deal, skus: dict[str, str | None] | None = None) -> DealTerms:
    return DealTerms(
        id=deal.id,
        vendor_id=deal.vendor_id,
        show_id=deal.show_id,
        product_id=deal.product_id,
        variant_ids=tuple(deal.variant_ids),
        price=deal.price,
        currency=deal.currency,
        quantity=deal.quantity,
        per_shopper_limit=deal.per_shopper_limit,
        signed_in_only=deal.signed_in_only,
        hold_seconds=deal.hold_seconds,
        guest_hold_seconds=guest_hold(deal),
        starts_at=deal.starts_at,
        ends_at=deal.ends_at,
        skus=tuple((skus or {}).items()),
    )


def _check_discount(price: int, currency: str, variants: list[Variant]) -> None:
    """A deal sells below the price it is a deal on, for every variant it covers:
    a "deal" at or above the product's price is a typo (an extra digit) or a
    trap, and the player would show it as a discount either way."""
    over = [v for v in variants if price >= v.price]
    if over:
        lowest = min(v.price for v in variants)
        raise CommerceError(
            "invalid",
            "price_not_discounted",
            f"a deal must sell below the product's price: {format_money(price, currency)} is "
            f"not below {format_money(lowest, currency)} ({lowest} in minor units), the lowest "
            "price of the variants it covers",
            {"variant_ids": [v.id for v in over], "max_price": lowest - 1},
        )


async def create_deal(
    db: AsyncSession, show: Show, body: DealIn, default_hold_seconds: int = DEFAULT_HOLD_SECONDS
) -> Deal:
    if show.state not in OPEN_SHOW_STATES:
        raise CommerceError("conflict", "show_over", f"the show is {show.state}: no new deals")
    if body.product_id not in {item.product_id for item in show.lineup}:
        raise CommerceError(
            "invalid", "not_in_lineup", "deals are for products in the show's line-up"
        )
    product = await get_product(db, show.vendor_id, body.product_id)
    require_active(product)
    known = [v.id for v in product.variants]
    variant_ids = body.variant_ids or known
    unknown = sorted(set(variant_ids) - set(known))
    if unknown:
        raise CommerceError(
            "invalid",
            "unknown_variants",
            "some variants are not the product's",
            {"variant_ids": unknown},
        )
    if len(set(variant_ids)) != len(variant_ids):
        raise CommerceError("invalid", "duplicate_variant", "a variant appears twice")
    currency = same_currency(body.currency, product.currency, "the product is priced in")
    _check_discount(body.price, currency, [v for v in product.variants if v.id in variant_ids])
    now = utcnow()
    if body.starts_in_seconds is not None:
        starts_at = now + timedelta(seconds=body.starts_in_seconds)
    else:
        starts_at = max(body.starts_at or now, now)
    deal = Deal(
        id=new_id("deal"),
        vendor_id=show.vendor_id,
        show_id=show.id,
        product_id=product.id,
        variant_ids=variant_ids,
        title=body.title or product.title,
        price=body.price,
        currency=currency,
        quantity=body.quantity,
        per_shopper_limit=body.per_shopper_limit,
        signed_in_only=body.signed_in_only,
        hold_seconds=body.hold_seconds or default_hold_seconds,
        guest_hold_seconds=body.guest_hold_seconds,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(seconds=body.duration_seconds),
        start_announced=False,
        created_at=now,
    )
    db.add(deal)
    await db.flush()
    db.add(DealStock(deal_id=deal.id, remaining=body.quantity, sold=0, open=True, version=0))
    await db.flush()
    return deal


async def get_deal(db: AsyncSession, vendor_id: str, deal_id: str) -> Deal:
    return await get_owned(db, Deal, vendor_id, deal_id, CommerceError.not_found("deal"))


async def public_deal(db: AsyncSession, deal_id: str) -> Deal | None:
    """A deal by id alone: shoppers are given deal ids by the show's events."""
    if not 1 <= len(deal_id) <= 40:
        return None
    return await db.get(Deal, deal_id)


async def list_deals(db: AsyncSession, vendor_id: str, show_id: str) -> list[Deal]:
    rows = await db.execute(
        select(Deal).where(Deal.vendor_id == vendor_id, Deal.show_id == show_id).order_by(Deal.id)
    )
    return list(rows.scalars())


async def stock_of(db: AsyncSession, deal_ids: list[str]) -> dict[str, DealStock]:
    if not deal_ids:
        return {}
    rows = await db.execute(select(DealStock).where(DealStock.deal_id.in_(deal_ids)))
    return {s.deal_id: s for s in rows.scalars()}


async def running_deals(db: AsyncSession, show_id: str) -> list[Deal]:
    """Deals of a show that are announced and not over (for the snapshot)."""
    now = utcnow()
    rows = await db.execute(
        select(Deal)
        .where(Deal.show_id == show_id, Deal.ended_at.is_(None), Deal.ends_at > now)
        .order_by(Deal.starts_at, Deal.id)
    )
    return list(rows.scalars())


def out(deal: Deal, stock: DealStock | None) -> DealOut:
    remaining = stock.remaining if stock else 0
    sold = stock.sold if stock else 0
    return {
        "id": deal.id,
        "show_id": deal.show_id,
        "product_id": deal.product_id,
        "variant_ids": deal.variant_ids,
        "title": deal.title,
        "price": deal.price,
        "currency": deal.currency,
        "quantity": deal.quantity,
        "units_left": remaining,
        "sold": sold,
        "held": deal.quantity - remaining - sold,
        "per_shopper_limit": deal.per_shopper_limit,
        "signed_in_only": deal.signed_in_only,
        "hold_seconds": deal.hold_seconds,
        "guest_hold_seconds": guest_hold(deal),
        "starts_at": deal.starts_at,
        "ends_at": deal.ends_at,
        "status": status(deal),
        "end_reason": deal.end_reason,
        "created_at": deal.created_at,
    }


# What a deal's announcements on the show socket carry, in this order.
_EVENT_FIELDS = (
    "product_id variant_ids title price currency quantity units_left per_shopper_limit "
    "signed_in_only starts_at ends_at"
).split()


def event_data(deal: Deal, units_left: int) -> dict[str, Any]:
    """``deal.started`` / snapshot shape."""
    data: dict[str, Any] = {"deal_id": deal.id}
    for key in _EVENT_FIELDS:
        data[key] = units_left if key == "units_left" else getattr(deal, key)
    return data


def webhook_data(deal: Deal, stock: DealStock | None) -> dict[str, Any]:
    data: dict[str, Any] = dict(out(deal, stock))
    for key in ("starts_at", "ends_at", "created_at"):
        data[key] = data[key].isoformat().replace("+00:00", "Z")
    return data


async def end_deal(db: AsyncSession, deal: Deal, reason: str) -> Returned | None:
    """Close the deal to claims (the caller commits). Held reservations stay
    valid until their holds run out, unless the deal is cancelled: then they
    are released (returned)."""
    if deal.ended_at is not None:
        raise CommerceError("conflict", "deal_ended", "the deal has already ended")
    now = utcnow()
    won = await db.execute(
        update(Deal)
        .where(Deal.id == deal.id, Deal.ended_at.is_(None))
        .values(ended_at=now, end_reason=reason)
    )
    if not getattr(won, "rowcount", 1):
        raise CommerceError("conflict", "deal_ended", "the deal has already ended")
    deal.ended_at, deal.end_reason = now, reason
    await db.execute(update(DealStock).where(DealStock.deal_id == deal.id).values(open=False))
    await db.execute(
        update(WaitlistEntry)
        .where(WaitlistEntry.deal_id == deal.id, WaitlistEntry.status == "waiting")
        .values(status="lapsed")
    )
    if reason != "cancelled":
        await db.flush()
        return None
    rows = await db.execute(
        select(Reservation).where(Reservation.deal_id == deal.id, Reservation.status == "held")
    )
    return await return_units(db, deal, list(rows.scalars()), "released")
