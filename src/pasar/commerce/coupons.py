"""Coupons: vendor-defined codes, posted during shows, redeemed by the vendor's checkout.

A coupon is a percentage (1–100, rounded down) or a fixed amount in one currency,
optionally for one show only, with a total usage limit, a per-shopper limit and
a validity window. Redemption is one transaction: the redemption row (unique per
coupon and order reference, so a retry answers the first redemption), then a
conditional ``UPDATE … SET used = used + 1 WHERE used < usage_limit`` and a
conditional upsert of the shopper's count. Under concurrency the row lock (or
SQLite's single writer) orders them, and a redemption that would pass a limit
changes nothing: the whole transaction is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from pasar.clock import utcnow
from pasar.commerce.errors import CommerceError
from pasar.commerce.sales_models import Coupon, CouponPost, CouponRedemption, CouponShopperUse
from pasar.commerce.schemas import CouponIn, CouponPatch, RedeemIn, ValidateIn
from pasar.db.tenancy import get_owned
from pasar.db.upsert import upsert
from pasar.ids import new_id
from pasar.pagination import Page, paginate
from pasar.shows.models import Show
from pasar.shows.service import get_show

POSTABLE_STATES = ("scheduled", "live")


@dataclass(frozen=True, slots=True)
class Quote:
    coupon: Coupon
    amount: int
    discount: int
    currency: str

    def out(self) -> dict[str, Any]:
        c = self.coupon
        return {
            "coupon_id": c.id,
            "code": c.code,
            "kind": c.kind,
            "value": c.value,
            "amount": self.amount,
            "discount": self.discount,
            "amount_after": self.amount - self.discount,
            "currency": self.currency,
        }


def coupon_out(c: Coupon) -> dict[str, Any]:
    keys = (
        "id code description kind value currency show_id usage_limit per_shopper_limit used "
        "starts_at ends_at active created_at updated_at"
    ).split()
    return {k: getattr(c, k) for k in keys}


def posted_data(c: Coupon) -> dict[str, Any]:
    """The ``coupon.posted`` event: enough to show the code and copy it with one tap."""
    return {
        "coupon_id": c.id,
        "code": c.code,
        "description": c.description,
        "kind": c.kind,
        "value": c.value,
        "currency": c.currency,
        "ends_at": c.ends_at,
    }


# -- managing coupons ---------------------------------------------------------------


async def _flush_code(db: AsyncSession, code: str) -> None:
    try:
        await db.flush()
    except IntegrityError:
        raise CommerceError(
            "conflict", "code_taken", f"you already have a coupon {code}", {"code": code}
        ) from None


async def create_coupon(db: AsyncSession, vendor_id: str, body: CouponIn) -> Coupon:
    if body.show_id is not None:
        await get_show(db, vendor_id, body.show_id)
    taken = await db.execute(
        select(Coupon.id).where(Coupon.vendor_id == vendor_id, Coupon.code == body.code)
    )
    if taken.scalar_one_or_none() is not None:
        raise CommerceError(
            "conflict", "code_taken", f"you already have a coupon {body.code}", {"code": body.code}
        )
    now = utcnow()
    coupon = Coupon(
        id=new_id("cpn"),
        vendor_id=vendor_id,
        used=0,
        created_at=now,
        updated_at=now,
        **body.model_dump(),
    )
    db.add(coupon)
    await _flush_code(db, body.code)
    return coupon


async def get_coupon(db: AsyncSession, vendor_id: str, coupon_id: str) -> Coupon:
    return await get_owned(db, Coupon, vendor_id, coupon_id, CommerceError.not_found("coupon"))


async def list_coupons(
    db: AsyncSession,
    vendor_id: str,
    *,
    show_id: str | None,
    active: bool | None,
    cursor: str | None,
    limit: int,
) -> Page[Coupon]:
    stmt = select(Coupon).where(Coupon.vendor_id == vendor_id)
    if show_id:
        stmt = stmt.where(Coupon.show_id == show_id)
    if active is not None:
        stmt = stmt.where(Coupon.active.is_(active))
    return await paginate(db, stmt, Coupon.id, cursor=cursor, limit=limit)


async def update_coupon(db: AsyncSession, coupon: Coupon, body: CouponPatch) -> Coupon:
    changes = body.model_dump(exclude_unset=True)
    if changes.get("description") is None:
        changes.pop("description", None)
    if changes.get("active") is None:
        changes.pop("active", None)
    starts = changes.get("starts_at", coupon.starts_at)
    ends = changes.get("ends_at", coupon.ends_at)
    if starts and ends and ends <= starts:
        raise CommerceError("invalid", "invalid_window", "ends_at must be after starts_at")
    for name, value in changes.items():
        setattr(coupon, name, value)
    coupon.updated_at = utcnow()
    await db.flush()
    return coupon


async def delete_coupon(db: AsyncSession, coupon: Coupon) -> None:
    """Gone with its posts and redemptions; orders keep their amounts."""
    await db.delete(coupon)
    await db.flush()


# -- posting during a show -------------------------------------------------------------


def _refusal(coupon: Coupon, now: datetime) -> CommerceError | None:
    if not coupon.active:
        return CommerceError("conflict", "coupon_inactive", "the coupon is switched off")
    if coupon.starts_at is not None and now < coupon.starts_at:
        return CommerceError(
            "conflict",
            "coupon_not_started",
            "the coupon is not valid yet",
            {"starts_at": coupon.starts_at.isoformat()},
        )
    if coupon.ends_at is not None and now >= coupon.ends_at:
        return CommerceError("conflict", "coupon_ended", "the coupon has expired")
    if coupon.usage_limit is not None and coupon.used >= coupon.usage_limit:
        return CommerceError("conflict", "coupon_exhausted", "the coupon has been used up")
    return None


async def in_show(db: AsyncSession, show: Show, coupon_id: str) -> Coupon:
    """A coupon usable in ``show``: the vendor's coupons for every show and those for
    this one. One for another show is not found here."""
    coupon = await get_coupon(db, show.vendor_id, coupon_id)
    if coupon.show_id is not None and coupon.show_id != show.id:
        raise CommerceError.not_found("coupon")
    return coupon


async def post_coupon(db: AsyncSession, show: Show, coupon: Coupon, actor: str) -> CouponPost:
    if show.state not in POSTABLE_STATES:
        raise CommerceError("conflict", "show_over", f"the show is {show.state}: nothing to post")
    refused = _refusal(coupon, utcnow())
    if refused is not None:
        raise refused
    post = CouponPost(
        id=new_id("cpp"),
        vendor_id=show.vendor_id,
        coupon_id=coupon.id,
        show_id=show.id,
        posted_by=actor,
        posted_at=utcnow(),
    )
    db.add(post)
    await db.flush()
    return post


async def posted_in_show(db: AsyncSession, show_id: str) -> list[dict[str, Any]]:
    """The coupons posted in a show that can still be used, latest post first."""
    last = (
        select(CouponPost.coupon_id, func.max(CouponPost.posted_at).label("posted_at"))
        .where(CouponPost.show_id == show_id)
        .group_by(CouponPost.coupon_id)
        .subquery()
    )
    rows = await db.execute(
        select(Coupon, last.c.posted_at)
        .join(last, last.c.coupon_id == Coupon.id)
        .order_by(last.c.posted_at.desc(), Coupon.id)
    )
    now = utcnow()
    return [
        {**posted_data(coupon), "posted_at": posted_at}
        for coupon, posted_at in rows
        if _refusal(coupon, now) is None
    ]


# -- validating and redeeming ---------------------------------------------------------


async def _by_code(db: AsyncSession, vendor_id: str, code: str) -> Coupon:
    coupon = (
        await db.execute(
            select(Coupon).where(Coupon.vendor_id == vendor_id, Coupon.code == code.upper())
        )
    ).scalar_one_or_none()
    if coupon is None:
        raise CommerceError("not_found", "coupon_not_found", "no coupon has this code")
    return coupon


def _discount(coupon: Coupon, amount: int, currency: str) -> int:
    if coupon.kind == "percent":
        return amount * coupon.value // 100  # rounded down: never more off than promised
    if coupon.currency != currency:
        raise CommerceError(
            "invalid",
            "currency_mismatch",
            f"the coupon is {coupon.value} {coupon.currency} off, the amount is in {currency}",
        )
    return min(coupon.value, amount)


async def _check(
    db: AsyncSession, vendor_id: str, body: RedeemIn | ValidateIn, now: datetime
) -> Quote:
    coupon = await _by_code(db, vendor_id, body.code)
    if body.show_id is not None:
        await get_show(db, vendor_id, body.show_id)
    refused = _refusal(coupon, now)
    if refused is not None:
        raise refused
    if coupon.show_id is not None and body.show_id != coupon.show_id:
        raise CommerceError(
            "conflict",
            "coupon_wrong_show",
            "the coupon is for orders from another show",
            {"show_id": coupon.show_id},
        )
    if coupon.per_shopper_limit is not None and body.shopper_id is None:
        raise CommerceError(
            "invalid",
            "shopper_required",
            "the coupon has a per-shopper limit: send shopper_id",
        )
    discount = _discount(coupon, body.amount, body.currency)
    if coupon.per_shopper_limit is not None and body.shopper_id is not None:
        uses = (
            await db.execute(
                select(CouponShopperUse.uses).where(
                    CouponShopperUse.coupon_id == coupon.id,
                    CouponShopperUse.shopper_id == body.shopper_id,
                )
            )
        ).scalar_one_or_none()
        if (uses or 0) >= coupon.per_shopper_limit:
            raise _shopper_limit(coupon)
    return Quote(coupon, body.amount, discount, body.currency)


def _shopper_limit(coupon: Coupon) -> CommerceError:
    return CommerceError(
        "conflict",
        "coupon_limit_reached",
        f"this shopper has used the coupon {coupon.per_shopper_limit} time(s) already",
    )


async def validate(db: AsyncSession, vendor_id: str, body: ValidateIn) -> Quote:
    """What redeeming would give now, without using the coupon."""
    return await _check(db, vendor_id, body, utcnow())


def redemption_out(r: CouponRedemption, coupon: Coupon) -> dict[str, Any]:
    return {
        **Quote(coupon, r.amount, r.discount, r.currency).out(),
        "id": r.id,
        "order_ref": r.order_ref,
        "shopper_id": r.shopper_id,
        "show_id": r.show_id,
        "redeemed_at": r.created_at,
    }


async def _earlier(db: AsyncSession, coupon: Coupon, body: RedeemIn) -> CouponRedemption | None:
    """The coupon's redemption for this order, if any; 409 if it differs from ``body``."""
    found = (
        await db.execute(
            select(CouponRedemption).where(
                CouponRedemption.coupon_id == coupon.id,
                CouponRedemption.order_ref == body.order_ref,
            )
        )
    ).scalar_one_or_none()
    if found is None:
        return None
    same = (found.amount, found.currency, found.shopper_id, found.show_id) == (
        body.amount,
        body.currency,
        body.shopper_id,
        body.show_id,
    )
    if not same:
        raise CommerceError(
            "conflict",
            "already_redeemed",
            f"the coupon was redeemed for order {body.order_ref} with other details",
            {"redemption_id": found.id},
        )
    return found


async def redeem(
    db: AsyncSession, vendor_id: str, body: RedeemIn
) -> tuple[CouponRedemption, Coupon, bool]:
    """(redemption, coupon, replayed). The caller commits; any refusal raises and the
    caller's rollback leaves every counter as it was."""
    coupon = await _by_code(db, vendor_id, body.code)
    earlier = await _earlier(db, coupon, body)
    if earlier is not None:
        return earlier, coupon, True
    now = utcnow()
    quote = await _check(db, vendor_id, body, now)
    row = CouponRedemption(
        id=new_id("red"),
        vendor_id=vendor_id,
        coupon_id=coupon.id,
        order_ref=body.order_ref,
        shopper_id=body.shopper_id,
        show_id=body.show_id,
        amount=body.amount,
        discount=quote.discount,
        currency=body.currency,
        created_at=now,
    )
    db.add(row)
    try:
        await db.flush()
    except IntegrityError:
        await db.rollback()  # the same order redeemed concurrently: answer that one
        coupon = await _by_code(db, vendor_id, body.code)
        earlier = await _earlier(db, coupon, body)
        if earlier is None:
            raise
        return earlier, coupon, True
    counted = await db.execute(
        update(Coupon)
        .where(
            Coupon.id == coupon.id,
            Coupon.active.is_(True),
            (Coupon.usage_limit.is_(None)) | (Coupon.used < Coupon.usage_limit),
        )
        .values(used=Coupon.used + 1)
        .execution_options(synchronize_session=False)
    )
    if not getattr(counted, "rowcount", 0):
        raise CommerceError("conflict", "coupon_exhausted", "the coupon has been used up")
    if coupon.per_shopper_limit is not None and body.shopper_id is not None:
        stmt = upsert(db, CouponShopperUse).values(
            coupon_id=coupon.id, shopper_id=body.shopper_id, uses=1
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["coupon_id", "shopper_id"],
            set_={"uses": CouponShopperUse.uses + 1},
            where=CouponShopperUse.uses < coupon.per_shopper_limit,
        ).returning(CouponShopperUse.uses)
        if (await db.execute(stmt)).scalar_one_or_none() is None:
            raise _shopper_limit(coupon)
    await db.refresh(coupon)
    return row, coupon, False
