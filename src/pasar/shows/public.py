"""What anyone may see of a show: the Storefront API's show document and the
vendor's "Live now" slot (issue 11).

Only products a shopper may buy are shown (status ``active``: drafts and archived
products never leak through a show's line-up), and stock is a hint, never the
count: a competitor learns nothing from the document a vendor could not tell
from the shop's own page.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from pasar.catalog.models import Product, Variant
from pasar.catalog.service import products_by_ids
from pasar.clock import utcnow
from pasar.shows.models import Show
from pasar.shows.states import ShowState

# Shoppers are told "only a few left" at or below this many units.
LOW_STOCK = 5
# A scheduled show whose time passed this long ago without going live no longer
# counts as the vendor's next show (the host is late, not the show forgotten).
LATE_START_GRACE = timedelta(hours=2)


def stock_hint(variant: Variant) -> tuple[bool, bool]:
    """(in_stock, low_stock) for one variant."""
    return variant.stock > 0, 0 < variant.stock <= LOW_STOCK


async def visible_lineup(db: AsyncSession, show: Show) -> list[Product]:
    """The line-up's products a shopper may see, in line-up order."""
    ids = [item.product_id for item in show.lineup]
    products = await products_by_ids(db, show.vendor_id, ids)
    found = {p.id: p for p in products if p.status == "active"}
    return [found[pid] for pid in ids if pid in found]


async def current_show(db: AsyncSession, vendor_id: str) -> Show | None:
    """The vendor's live show (the latest started when several are), else its next
    scheduled show (dated, not more than ``LATE_START_GRACE`` overdue, soonest
    first), else its latest replay; None when it has none of these."""
    live = select(Show).where(Show.vendor_id == vendor_id, Show.state == ShowState.LIVE.value)
    found = (
        await db.execute(live.order_by(Show.started_at.desc(), Show.id.desc()).limit(1))
    ).scalar_one_or_none()
    if found is not None:
        return found
    upcoming = select(Show).where(
        Show.vendor_id == vendor_id,
        Show.state == ShowState.SCHEDULED.value,
        Show.scheduled_at >= utcnow() - LATE_START_GRACE,
    )
    found = (
        await db.execute(upcoming.order_by(Show.scheduled_at, Show.id).limit(1))
    ).scalar_one_or_none()
    if found is not None:
        return found
    replay = select(Show).where(Show.vendor_id == vendor_id, Show.state == ShowState.REPLAY.value)
    return (
        await db.execute(replay.order_by(Show.ended_at.desc(), Show.id.desc()).limit(1))
    ).scalar_one_or_none()
