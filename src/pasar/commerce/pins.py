"""Pins: the products on screen during a show, at most three at once.

Every pin is kept with its wall-clock time and the media time it falls at in
the recording, so replays can jump to it and analytics can credit it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from pasar.catalog.models import Product
from pasar.catalog.service import get_product
from pasar.clock import utcnow
from pasar.commerce.errors import CommerceError
from pasar.commerce.models import Pin
from pasar.db.tenancy import get_owned
from pasar.ids import new_id
from pasar.media.recording import Recording
from pasar.shows.models import Show
from pasar.storage import Storage

MAX_PINNED = 3
PINNABLE_STATES = ("scheduled", "live")


async def active_pins(db: AsyncSession, show_id: str) -> list[Pin]:
    rows = await db.execute(
        select(Pin).where(Pin.show_id == show_id, Pin.unpinned_at.is_(None)).order_by(Pin.id)
    )
    return list(rows.scalars())


async def pin_product(
    db: AsyncSession, show: Show, product_id: str, actor: str, media_time: float | None
) -> tuple[Pin, Product, bool]:
    """(pin, product, created). Pinning what is already pinned returns that pin."""
    if show.state not in PINNABLE_STATES:
        raise CommerceError("conflict", "show_over", f"the show is {show.state}: nothing to pin")
    if product_id not in {item.product_id for item in show.lineup}:
        raise CommerceError(
            "invalid", "not_in_lineup", "only products in the show's line-up can be pinned"
        )
    product = await get_product(db, show.vendor_id, product_id)
    require_active(product)
    pinned = await active_pins(db, show.id)
    for pin in pinned:
        if pin.product_id == product_id:
            return pin, product, False
    if len(pinned) >= MAX_PINNED:
        raise CommerceError(
            "conflict",
            "too_many_pins",
            f"at most {MAX_PINNED} products can be pinned at once; unpin one first",
            {"pinned": [p.id for p in pinned]},
        )
    pin = Pin(
        id=new_id("pin"),
        vendor_id=show.vendor_id,
        show_id=show.id,
        product_id=product_id,
        pinned_at=utcnow(),
        unpinned_at=None,
        media_time=media_time,
        pinned_by=actor,
    )
    db.add(pin)
    await db.flush()
    return pin, product, True


def require_active(product: Product) -> None:
    """Shoppers only ever see active products (the Storefront show document
    leaves the others out), so a draft or archived one is neither pinned nor sold."""
    if product.status != "active":
        raise CommerceError(
            "conflict",
            "product_not_active",
            f"the product is {product.status}: make it active before showing it to shoppers",
        )


async def get_pin(db: AsyncSession, vendor_id: str, show_id: str, pin_id: str) -> Pin:
    missing = CommerceError.not_found("pin")
    return await get_owned(db, Pin, vendor_id, pin_id, missing, Pin.show_id == show_id)


async def unpin(db: AsyncSession, pin: Pin) -> bool:
    """False when it was already unpinned (nothing changes)."""
    if pin.unpinned_at is not None:
        return False
    pin.unpinned_at = utcnow()
    await db.flush()
    return True


async def take_down(db: AsyncSession, show_id: str) -> list[Pin]:
    """Unpin everything on screen (the show ended); returns the pins this call
    took down. Each is a conditional update, so when several nodes do it at
    once each pin is taken down, and announced, by one of them."""
    now = utcnow()
    taken = []
    for pin in await active_pins(db, show_id):
        won = await db.execute(
            update(Pin)
            .where(Pin.id == pin.id, Pin.unpinned_at.is_(None))
            .values(unpinned_at=now)
            .execution_options(synchronize_session=False)
        )
        if getattr(won, "rowcount", 0):
            pin.unpinned_at = now
            taken.append(pin)
    return taken


async def list_pins(db: AsyncSession, vendor_id: str, show_id: str) -> list[Pin]:
    rows = await db.execute(
        select(Pin).where(Pin.vendor_id == vendor_id, Pin.show_id == show_id).order_by(Pin.id)
    )
    return list(rows.scalars())


async def pin_at(db: AsyncSession, show_id: str, product_id: str, moment: datetime) -> str | None:
    """The pin of ``product_id`` on screen at ``moment`` (for attribution)."""
    rows = await db.execute(
        select(Pin.id, Pin.unpinned_at)
        .where(Pin.show_id == show_id, Pin.product_id == product_id, Pin.pinned_at <= moment)
        .order_by(Pin.pinned_at.desc())
        .limit(1)
    )
    row = rows.one_or_none()
    if row is None or (row[1] is not None and row[1] < moment):
        return None
    return str(row[0])


def live_media_time(recording: Recording | None, moment: datetime) -> float | None:
    """Where ``moment`` falls in the recording while the show is live.

    The segment being recorded is not in the timeline yet, so a moment just
    after the last entry is placed by extrapolating from it (at most a couple
    of segments: further out the stream has dropped and there is no media)."""
    if recording is None or not recording.timeline:
        return None
    exact = recording.media_time_at(moment)
    if exact is not None:
        return exact
    last = recording.timeline[-1]
    offset = (moment - last.wall_clock).total_seconds()
    if 0 <= offset < last.duration * 3:
        return round(last.media_time + offset, 3)
    return None


def pin_out(pin: Pin, recording: Recording | None) -> dict[str, Any]:
    media_time = recording.media_time_at(pin.pinned_at) if recording else None
    return {
        "id": pin.id,
        "show_id": pin.show_id,
        "product_id": pin.product_id,
        "pinned_at": pin.pinned_at,
        "unpinned_at": pin.unpinned_at,
        "media_time": media_time if media_time is not None else pin.media_time,
    }


def first_image_url(product: Product, storage: Storage) -> str | None:
    if not product.images:
        return None
    first = product.images[0]
    return storage.url(first.storage_key) if first.storage_key else first.src


def pinned_data(
    pin: Pin, product: Product, image_url: Callable[[Product], str | None]
) -> dict[str, Any]:
    """The ``product.pinned`` event: enough to draw the product card at once."""
    return {
        "product_id": product.id,
        "pin_id": pin.id,
        "pinned_at": pin.pinned_at,
        "product": {
            "id": product.id,
            "title": product.title,
            "url": product.product_url,
            "image_url": image_url(product),
            "currency": product.currency,
            "variants": [
                {
                    "id": v.id,
                    "title": " / ".join(v.option_values),
                    "price": v.price,
                    "compare_at_price": v.compare_at_price,
                    "available": v.stock > 0,
                }
                for v in product.variants
            ],
        },
    }
