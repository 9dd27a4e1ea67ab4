"""Commerce tables: pins, flash deals, their stock, reservations and the waitlist.

Prices are integer minor units in ``currency``. The database is the record for
every unit of a deal: ``deal_stock.remaining`` is what can still be claimed,
and each claimed unit is a reservation row (held, then confirmed, or returned
by release or expiry). Both stock engines write here before answering.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from pasar.db.base import Base, TenantMixin, UTCDateTime, parent_id


class Pin(TenantMixin, Base):
    """A product shown on screen, from ``pinned_at`` until ``unpinned_at``."""

    __tablename__ = "pins"
    __table_args__ = (Index("ix_pins_show_active", "show_id", "unpinned_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    show_id: Mapped[str] = parent_id("shows.id", nullable=False)
    product_id: Mapped[str] = parent_id("products.id", index=True, nullable=False)
    pinned_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    unpinned_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Seconds into the replay, as far as the recording knew at pin time; readers
    # prefer the exact figure from the finished recording's timeline.
    media_time: Mapped[float | None] = mapped_column(Float, nullable=True)
    pinned_by: Mapped[str] = mapped_column(String(80), nullable=False)


class Deal(TenantMixin, Base):
    __tablename__ = "deals"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    show_id: Mapped[str] = parent_id("shows.id", index=True, nullable=False)
    product_id: Mapped[str] = parent_id("products.id", nullable=False)
    variant_ids: Mapped[list[str]] = mapped_column(JSON, nullable=False)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    price: Mapped[int] = mapped_column(BigInteger, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    per_shopper_limit: Mapped[int] = mapped_column(Integer, nullable=False)
    signed_in_only: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    hold_seconds: Mapped[int] = mapped_column(Integer, nullable=False)
    # A guest's claim holds this long instead (null: hold_seconds): a scarce deal
    # can hold throwaway identities' units briefly and vouched shoppers' longer.
    guest_hold_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
    # Set once, by whichever node wins the conditional update, so each
    # announcement (webhook, realtime) goes out exactly once.
    start_announced: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    end_reason: Mapped[str | None] = mapped_column(String(16), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class DealStock(Base):
    """The hot row: one per deal, locked by every batch of claims.

    Kept apart from ``deals`` so the row every claim updates is narrow."""

    __tablename__ = "deal_stock"

    deal_id: Mapped[str] = parent_id("deals.id", primary_key=True)
    remaining: Mapped[int] = mapped_column(Integer, nullable=False)
    sold: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # False once the deal ended or was cancelled: checked under the row lock.
    open: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    version: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    sold_out_announced: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)


class DealShopper(Base):
    """Units a shopper holds or bought in a deal (for the per-shopper limit)."""

    __tablename__ = "deal_shoppers"

    deal_id: Mapped[str] = parent_id("deals.id", primary_key=True)
    # Indexed alone: a claim batch asks for its shoppers' holdings by shopper
    # (ledger.holdings), which a new deal's row estimate cannot misplan.
    shopper_id: Mapped[str] = mapped_column(String(80), primary_key=True, index=True)
    units: Mapped[int] = mapped_column(Integer, nullable=False)


class Reservation(TenantMixin, Base):
    __tablename__ = "reservations"
    __table_args__ = (
        # The claim's idempotency: one reservation per (deal, shopper, key).
        UniqueConstraint("deal_id", "claim_key"),
        Index("ix_reservations_held_expiry", "status", "expires_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    deal_id: Mapped[str] = parent_id("deals.id", nullable=False)
    # Not indexed: nothing looks reservations up by show, and every claim would
    # write the index (migration 0009 dropped it).
    show_id: Mapped[str] = mapped_column(String(40), nullable=False)
    shopper_id: Mapped[str] = mapped_column(String(80), index=True, nullable=False)
    product_id: Mapped[str] = mapped_column(String(40), nullable=False)
    variant_id: Mapped[str] = mapped_column(String(40), nullable=False)
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    unit_price: Mapped[int] = mapped_column(BigInteger, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    # held → confirmed | released | expired
    status: Mapped[str] = mapped_column(String(12), nullable=False)
    # Indexed alone: a claim batch looks up its retries by key (ledger._existing).
    claim_key: Mapped[str] = mapped_column(String(64), index=True, nullable=False)
    fingerprint: Mapped[str] = mapped_column(String(64), nullable=False)
    pin_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    order_ref: Mapped[str | None] = mapped_column(String(100), nullable=True)
    order_amount: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    order_currency: Mapped[str | None] = mapped_column(String(3), nullable=True)


class WaitlistEntry(TenantMixin, Base):
    """A shopper refused while units were held, waiting for returned units.

    Served in arrival order (ids are ULIDs, so ordered by time of joining)
    when holds expire or are released."""

    __tablename__ = "deal_waitlist"
    __table_args__ = (
        UniqueConstraint("deal_id", "shopper_id"),
        Index("ix_deal_waitlist_order", "deal_id", "status", "id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    deal_id: Mapped[str] = parent_id("deals.id", nullable=False)
    shopper_id: Mapped[str] = mapped_column(String(80), nullable=False)
    variant_id: Mapped[str] = mapped_column(String(40), nullable=False)
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    # waiting → granted (reservation_id) | left | lapsed (the deal ended)
    status: Mapped[str] = mapped_column(String(10), nullable=False)
    reservation_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


def guest_hold(deal: Deal) -> int:
    """Seconds a guest's claim holds its units."""
    return deal.guest_hold_seconds or deal.hold_seconds


def hold_for(deal: Deal, shopper_id: str) -> int:
    """Seconds a claim by ``shopper_id`` ('guest:…' or 'shopper:…') holds its units."""
    return guest_hold(deal) if shopper_id.startswith("guest:") else deal.hold_seconds


MAX_UNITS = 1_000_000  # per deal; keeps sums far from integer overflow
MAX_PRICE = 10**15  # minor units; fits BIGINT with room for quantity x price
