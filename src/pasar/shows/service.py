"""Show operations, always scoped by vendor id."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from pasar.catalog.service import products_by_ids
from pasar.clock import as_utc, utcnow
from pasar.db.tenancy import get_owned
from pasar.ids import new_id
from pasar.pagination import Page, paginate
from pasar.shows.errors import ShowError
from pasar.shows.models import Show, ShowProduct
from pasar.shows.schemas import ShowIn, ShowPatch
from pasar.shows.states import ShowState, can_move
from pasar.vendors import credentials
from pasar.vendors.service import get_staff

STREAM_KEY_PREFIX = "live_"


@dataclass(frozen=True, slots=True)
class StreamKey:
    secret: str
    hash: str
    sealed: str


def new_stream_key(box: credentials.SecretBox) -> StreamKey:
    secret = credentials.new_token(STREAM_KEY_PREFIX, 32)
    return StreamKey(secret, credentials.token_hash(secret), box.seal(secret))


async def _check_host(db: AsyncSession, vendor_id: str, host_user_id: str | None) -> None:
    if host_user_id is not None:
        try:
            await get_staff(db, vendor_id, host_user_id)
        except Exception as exc:
            raise ShowError(
                "invalid", "unknown_host", "host_user_id is not a staff user of this vendor"
            ) from exc


async def _lineup(db: AsyncSession, show: Show, product_ids: list[str]) -> list[ShowProduct]:
    if len(set(product_ids)) != len(product_ids):
        raise ShowError("invalid", "duplicate_product", "a product appears twice in the line-up")
    found = {p.id for p in await products_by_ids(db, show.vendor_id, product_ids)}
    missing = [pid for pid in product_ids if pid not in found]
    if missing:
        raise ShowError(
            "invalid", "unknown_products", "some products do not exist", {"product_ids": missing}
        )
    return [
        ShowProduct(
            id=new_id("shp"), vendor_id=show.vendor_id, show_id=show.id, product_id=pid, position=i
        )
        for i, pid in enumerate(product_ids)
    ]


async def create_show(
    db: AsyncSession, box: credentials.SecretBox, vendor_id: str, body: ShowIn
) -> Show:
    await _check_host(db, vendor_id, body.host_user_id)
    key = new_stream_key(box)
    show = Show(
        id=new_id("show"),
        vendor_id=vendor_id,
        title=body.title,
        description=body.description,
        scheduled_at=as_utc(body.scheduled_at) if body.scheduled_at else None,
        host_user_id=body.host_user_id,
        state=ShowState.SCHEDULED.value,
        stream_key_hash=key.hash,
        stream_key_sealed=key.sealed,
        stream_key_rotated_at=utcnow(),
        lineup=[],
    )
    show.lineup = await _lineup(db, show, body.product_ids)
    db.add(show)
    await db.flush()
    return show


async def get_show(db: AsyncSession, vendor_id: str, show_id: str) -> Show:
    return await get_owned(db, Show, vendor_id, show_id, ShowError.not_found("show"))


async def list_shows(
    db: AsyncSession,
    vendor_id: str,
    *,
    state: ShowState | None,
    scheduled_after: datetime | None,
    scheduled_before: datetime | None,
    cursor: str | None,
    limit: int,
) -> Page[Show]:
    stmt = select(Show).where(Show.vendor_id == vendor_id)
    if state:
        stmt = stmt.where(Show.state == state.value)
    if scheduled_after:
        stmt = stmt.where(Show.scheduled_at >= scheduled_after)
    if scheduled_before:
        stmt = stmt.where(Show.scheduled_at < scheduled_before)
    return await paginate(db, stmt, Show.id, cursor=cursor, limit=limit)


async def update_show(db: AsyncSession, show: Show, body: ShowPatch) -> Show:
    data = body.model_dump(exclude_unset=True)
    if "host_user_id" in data:
        await _check_host(db, show.vendor_id, body.host_user_id)
        show.host_user_id = body.host_user_id
    if "scheduled_at" in data:
        show.scheduled_at = as_utc(body.scheduled_at) if body.scheduled_at else None
    for field in ("title", "description"):
        if data.get(field) is not None:
            setattr(show, field, data[field])
    await db.flush()
    return show


async def set_lineup(db: AsyncSession, show: Show, product_ids: list[str]) -> Show:
    new = await _lineup(db, show, product_ids)
    show.lineup.clear()
    await db.flush()  # the unique (show, product) pairs must be gone before re-adding
    show.lineup.extend(new)
    await db.flush()
    return show


async def transition(db: AsyncSession, show: Show, target: ShowState) -> Show:
    current = ShowState(show.state)
    if not can_move(current, target):
        raise ShowError(
            "conflict",
            "illegal_transition",
            f"a {current.value} show cannot become {target.value}",
            {"from": current.value, "to": target.value},
        )
    now = utcnow()
    if target is ShowState.LIVE:
        show.started_at = now
    elif target is ShowState.ENDED:
        show.ended_at = now
    show.state = target.value
    await db.flush()
    return show


async def delete_show(db: AsyncSession, show: Show) -> None:
    if show.state == ShowState.LIVE:
        raise ShowError("conflict", "show_live", "end the show before deleting it")
    await db.delete(show)
    await db.flush()


async def rotate_stream_key(db: AsyncSession, box: credentials.SecretBox, show: Show) -> str:
    key = new_stream_key(box)
    show.stream_key_hash = key.hash
    show.stream_key_sealed = key.sealed
    show.stream_key_rotated_at = utcnow()
    await db.flush()
    return key.secret


def reveal_stream_key(box: credentials.SecretBox, show: Show) -> str:
    return box.open(show.stream_key_sealed)


async def show_for_stream_key(db: AsyncSession, presented: str) -> Show | None:
    """The show a publisher's key belongs to (the WHIP endpoint's lookup)."""
    if not presented.startswith(STREAM_KEY_PREFIX):
        return None
    return (
        await db.execute(
            select(Show).where(Show.stream_key_hash == credentials.token_hash(presented))
        )
    ).scalar_one_or_none()


async def set_cover(db: AsyncSession, show: Show, key: str) -> str | None:
    """Point the show at a new cover; returns the old key for the caller to delete."""
    old = show.cover_key
    show.cover_key = key
    await db.flush()
    return old


async def public_show(db: AsyncSession, show_id: str) -> Show | None:
    """A show by its id alone: the id is what the embed and the socket are given."""
    if not 1 <= len(show_id) <= 40:
        return None
    return await db.get(Show, show_id)
