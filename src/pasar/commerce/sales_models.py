"""Commerce tables for what sells: orders and their attribution, coupons, hosted carts.

Money is integer minor units in the row's ``currency`` (ISO 4217), as everywhere.
Attribution lives on the order *line*: one order can hold lines from two shows,
and analytics sums lines per show, product, pin and deal.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from pasar.db.base import Base, TenantMixin, UTCDateTime, parent_id


class Order(TenantMixin, Base):
    """An order the vendor's checkout took, reported by the API or by confirming
    reservations (``reported`` is False until the vendor reports the whole order)."""

    __tablename__ = "orders"
    __table_args__ = (UniqueConstraint("vendor_id", "order_ref"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    order_ref: Mapped[str] = mapped_column(String(100), nullable=False)
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    # The show the order came from (the first attributed line's), for listing.
    show_id: Mapped[str | None] = mapped_column(String(40), index=True, nullable=True)
    shopper_id: Mapped[str | None] = mapped_column(String(80), nullable=True)
    # "api": reported with POST /orders; "checkout": made by confirming reservations.
    source: Mapped[str] = mapped_column(String(10), nullable=False)
    reported: Mapped[bool] = mapped_column(Boolean, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class OrderLine(TenantMixin, Base):
    __tablename__ = "order_lines"
    __table_args__ = (
        Index("ix_order_lines_show", "show_id", "product_id"),
        # A reservation is sold once: it belongs to at most one order.
        UniqueConstraint("reservation_id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    order_id: Mapped[str] = parent_id("orders.id", index=True, nullable=False)
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    variant_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    product_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    sku: Mapped[str | None] = mapped_column(String(100), nullable=True)
    title: Mapped[str | None] = mapped_column(String(200), nullable=True)
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    unit_price: Mapped[int] = mapped_column(BigInteger, nullable=False)
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    # Attribution: how (reservation | click | show), to what, and when the shopper acted.
    attributed_by: Mapped[str | None] = mapped_column(String(12), nullable=True)
    show_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    pin_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    deal_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    reservation_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    acted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Coupon(TenantMixin, Base):
    __tablename__ = "coupons"
    __table_args__ = (UniqueConstraint("vendor_id", "code"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    code: Mapped[str] = mapped_column(String(40), nullable=False)  # upper case
    description: Mapped[str] = mapped_column(String(200), nullable=False)
    kind: Mapped[str] = mapped_column(String(8), nullable=False)  # percent | fixed
    value: Mapped[int] = mapped_column(BigInteger, nullable=False)
    currency: Mapped[str | None] = mapped_column(String(3), nullable=True)
    show_id: Mapped[str | None] = parent_id("shows.id", index=True, nullable=True)
    usage_limit: Mapped[int | None] = mapped_column(Integer, nullable=True)
    per_shopper_limit: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Redemptions so far; raised only by a conditional UPDATE that checks the limit.
    used: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class CouponRedemption(TenantMixin, Base):
    __tablename__ = "coupon_redemptions"
    # One redemption of a coupon per order: redeeming again answers the first one.
    __table_args__ = (UniqueConstraint("coupon_id", "order_ref"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    coupon_id: Mapped[str] = parent_id("coupons.id", nullable=False)
    order_ref: Mapped[str] = mapped_column(String(100), nullable=False)
    shopper_id: Mapped[str | None] = mapped_column(String(80), nullable=True)
    show_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    discount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class CouponShopperUse(Base):
    """Redemptions per shopper, raised by a conditional upsert (the per-shopper limit)."""

    __tablename__ = "coupon_shopper_uses"

    coupon_id: Mapped[str] = parent_id("coupons.id", primary_key=True)
    shopper_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    uses: Mapped[int] = mapped_column(Integer, nullable=False)


class CouponPost(TenantMixin, Base):
    """Staff posted a coupon during a show (shoppers see it and copy the code)."""

    __tablename__ = "coupon_posts"
    __table_args__ = (Index("ix_coupon_posts_show", "show_id", "coupon_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    coupon_id: Mapped[str] = parent_id("coupons.id", nullable=False)
    show_id: Mapped[str] = parent_id("shows.id", nullable=False)
    posted_by: Mapped[str] = mapped_column(String(80), nullable=False)
    posted_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class Cart(TenantMixin, Base):
    """Pasar's hosted cart: one per shopper per vendor. ``lines`` is what the shopper
    chose (variant, quantity, reservation, click); prices come from the catalog and
    the reservations each time the cart is read."""

    __tablename__ = "carts"
    __table_args__ = (UniqueConstraint("vendor_id", "shopper_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    shopper_id: Mapped[str] = mapped_column(String(80), nullable=False)
    show_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class CartCheckout(TenantMixin, Base):
    """A cart handed to the vendor's checkout: the priced lines as they were then.

    The signed cart token names this row; the vendor's server reads it with
    ``GET /api/v1/carts/{cart_token}``."""

    __tablename__ = "cart_checkouts"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    cart_id: Mapped[str] = parent_id("carts.id", index=True, nullable=False)
    shopper_id: Mapped[str] = mapped_column(String(80), nullable=False)
    show_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False)
    subtotal: Mapped[int] = mapped_column(BigInteger, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    item_count: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
