"""Reservations after the claim: confirm (sold), release, expire; the waitlist.

Every way a held unit comes back (release, expiry, a cancelled deal) goes
through ``return_units`` under the deal's row lock, which also serves the
waitlist in arrival order before the units become claimable again.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from pasar.clock import utcnow
from pasar.commerce.errors import CommerceError, same_currency
from pasar.commerce.ledger import holdings, lock_stock, set_holdings
from pasar.commerce.models import Deal, DealStock, Reservation, WaitlistEntry, hold_for
from pasar.commerce.schemas import ConfirmIn, ReservationOut
from pasar.db.tenancy import get_owned
from pasar.ids import new_id


@dataclass
class Returned:
    """What came back to one deal, for the engine, the ticker and the events."""

    deal_id: str
    show_id: str
    remaining: int = 0
    by_shopper: dict[str, int] = field(default_factory=dict)
    settled: list[Reservation] = field(default_factory=list)
    granted: list[dict[str, Any]] = field(default_factory=list)


def row_out(
    row: Reservation | Mapping[str, Any], checkout_url: str | None = None
) -> ReservationOut:
    """From the row, or from the engine's record of a claim (the same names)."""

    def get(key: str) -> Any:
        return row.get(key) if isinstance(row, Mapping) else getattr(row, key)

    return ReservationOut(
        id=get("id"),
        deal_id=get("deal_id"),
        show_id=get("show_id"),
        shopper_id=get("shopper_id"),
        product_id=get("product_id"),
        variant_id=get("variant_id"),
        quantity=get("quantity"),
        unit_price=get("unit_price"),
        currency=get("currency"),
        status=get("status"),
        pin_id=get("pin_id"),
        created_at=get("created_at"),
        expires_at=get("expires_at"),
        settled_at=get("settled_at"),
        order_ref=get("order_ref"),
        checkout_url=checkout_url,
    )


async def get_reservation(db: AsyncSession, vendor_id: str, reservation_id: str) -> Reservation:
    missing = CommerceError.not_found("reservation")
    return await get_owned(db, Reservation, vendor_id, reservation_id, missing)


async def list_reservations(
    db: AsyncSession,
    vendor_id: str,
    *,
    deal_id: str | None = None,
    shopper_id: str | None = None,
    status: str | None = None,
    limit: int = 100,
) -> list[Reservation]:
    stmt = select(Reservation).where(Reservation.vendor_id == vendor_id)
    if deal_id:
        stmt = stmt.where(Reservation.deal_id == deal_id)
    if shopper_id:
        stmt = stmt.where(Reservation.shopper_id == shopper_id)
    if status:
        stmt = stmt.where(Reservation.status == status)
    rows = await db.execute(stmt.order_by(Reservation.id).limit(limit))
    return list(rows.scalars())


def _refuse_settled(row: Reservation, now: datetime) -> None:
    if row.status == "expired" or (row.status == "held" and row.expires_at <= now):
        raise CommerceError(
            "conflict",
            "reservation_expired",
            "the reservation's hold ran out; its units went back to the deal",
            {"expired_at": row.expires_at.isoformat()},
        )
    if row.status == "released":
        raise CommerceError("conflict", "reservation_released", "the reservation was released")


async def confirm(db: AsyncSession, row: Reservation, body: ConfirmIn) -> bool:
    """Mark the units sold (the caller commits). False: already confirmed with
    this order reference (a retry), which changes nothing."""
    now = utcnow()
    if row.status == "confirmed":
        if row.order_ref == body.order_ref:
            return False
        raise CommerceError(
            "conflict",
            "already_confirmed",
            "the reservation is confirmed with another order reference",
            {"order_ref": row.order_ref},
        )
    _refuse_settled(row, now)
    currency = same_currency(body.currency, row.currency, "the reservation is in")
    # The deal's row first, as every writer of the deal does (ledger.py): an
    # expiry or release of this reservation takes it before the reservation's.
    await lock_stock(db, row.deal_id)
    won = await db.execute(
        update(Reservation)
        .where(
            Reservation.id == row.id,
            Reservation.status == "held",
            Reservation.expires_at > now,
        )
        .values(
            status="confirmed",
            settled_at=now,
            order_ref=body.order_ref,
            order_amount=body.amount,
            order_currency=currency,
        )
    )
    if not getattr(won, "rowcount", 1):  # expiry got there first
        await db.refresh(row)
        _refuse_settled(row, now)
        raise CommerceError("conflict", "reservation_settled", f"the reservation is {row.status}")
    await db.execute(
        update(DealStock)
        .where(DealStock.deal_id == row.deal_id)
        .values(sold=DealStock.sold + row.quantity)
    )
    await db.refresh(row)
    return True


async def return_units(
    db: AsyncSession, deal: Deal, rows: Sequence[Reservation], new_status: str
) -> Returned:
    """Give held units back to the deal (the caller commits).

    Only rows still held change (a confirm racing an expiry wins or loses
    here, never both); freed units go to the waitlist first, in arrival order."""
    result = Returned(deal.id, deal.show_id)
    stock = await lock_stock(db, deal.id)
    if stock is None:
        return result
    now = utcnow()
    ids = [r.id for r in rows]
    changed = await db.execute(
        update(Reservation)
        .where(Reservation.id.in_(ids), Reservation.status == "held")
        .values(status=new_status, settled_at=now)
        .returning(Reservation.id)
    )
    won = {rid for (rid,) in changed}
    settled = [r for r in rows if r.id in won]
    for r in settled:
        r.status, r.settled_at = new_status, now
    back = sum(r.quantity for r in settled)
    touched = {r.shopper_id for r in settled}
    held_by = await holdings(db, deal.id, list(touched))
    for r in settled:
        held_by[r.shopper_id] = held_by.get(r.shopper_id, 0) - r.quantity
    remaining = stock.remaining + back
    if stock.open and back:
        remaining = await _serve_waitlist(db, deal, remaining, held_by, result, now)
    await set_holdings(db, deal.id, {s: max(n, 0) for s, n in held_by.items()})
    await db.execute(
        update(DealStock).where(DealStock.deal_id == deal.id).values(remaining=remaining)
    )
    result.remaining = remaining
    result.by_shopper = {s: max(n, 0) for s, n in held_by.items()}
    result.settled = settled
    return result


async def _serve_waitlist(
    db: AsyncSession,
    deal: Deal,
    remaining: int,
    held_by: dict[str, int],
    result: Returned,
    now: datetime,
) -> int:
    waiting = await db.execute(
        select(WaitlistEntry)
        .where(WaitlistEntry.deal_id == deal.id, WaitlistEntry.status == "waiting")
        .order_by(WaitlistEntry.id)
        .limit(200)
    )
    entries = list(waiting.scalars())
    more = await holdings(db, deal.id, [e.shopper_id for e in entries])
    for shopper, units in more.items():
        held_by.setdefault(shopper, units)
    for entry in entries:
        if remaining <= 0:
            break
        have = held_by.get(entry.shopper_id, 0)
        if have + entry.quantity > deal.per_shopper_limit:
            entry.status = "left"  # they claimed meanwhile; the line moves on
            continue
        if entry.quantity > remaining:
            break  # first come, first served: nobody jumps the queue
        remaining -= entry.quantity
        held_by[entry.shopper_id] = have + entry.quantity
        row = {
            "id": new_id("rsv"),
            "vendor_id": deal.vendor_id,
            "deal_id": deal.id,
            "show_id": deal.show_id,
            "shopper_id": entry.shopper_id,
            "product_id": deal.product_id,
            "variant_id": entry.variant_id,
            "quantity": entry.quantity,
            "unit_price": deal.price,
            "currency": deal.currency,
            "status": "held",
            "claim_key": hashlib.sha256(f"waitlist\0{entry.id}".encode()).hexdigest(),
            "fingerprint": "",
            "pin_id": None,
            "created_at": now,
            "expires_at": now + timedelta(seconds=hold_for(deal, entry.shopper_id)),
            "settled_at": None,
            "order_ref": None,
            "order_amount": None,
            "order_currency": None,
        }
        await db.execute(insert(Reservation), [row])
        entry.status, entry.reservation_id = "granted", str(row["id"])
        result.granted.append(row)
    await db.flush()
    return remaining


async def due_for_expiry(db: AsyncSession, now: datetime, limit: int = 500) -> list[Reservation]:
    rows = await db.execute(
        select(Reservation)
        .where(Reservation.status == "held", Reservation.expires_at <= now)
        .order_by(Reservation.expires_at)
        .limit(limit)
    )
    return list(rows.scalars())


def by_deal(rows: Sequence[Reservation]) -> dict[str, list[Reservation]]:
    grouped: dict[str, list[Reservation]] = defaultdict(list)
    for r in rows:
        grouped[r.deal_id].append(r)
    return grouped


# -- the waitlist -----------------------------------------------------------


async def join_waitlist(
    db: AsyncSession, deal: Deal, shopper_id: str, variant_id: str, quantity: int
) -> tuple[WaitlistEntry, bool]:
    """(entry, created). Joining twice returns the place already held."""
    current = (
        await db.execute(
            select(WaitlistEntry).where(
                WaitlistEntry.deal_id == deal.id, WaitlistEntry.shopper_id == shopper_id
            )
        )
    ).scalar_one_or_none()
    if current is not None and current.status == "waiting":
        return current, False
    if current is not None:
        await db.delete(current)  # granted or left earlier: a new place at the back
        await db.flush()
    entry = WaitlistEntry(
        id=new_id("wait"),
        vendor_id=deal.vendor_id,
        deal_id=deal.id,
        shopper_id=shopper_id,
        variant_id=variant_id,
        quantity=quantity,
        status="waiting",
        created_at=utcnow(),
    )
    db.add(entry)
    await db.flush()
    return entry, True


async def waitlist_entry(db: AsyncSession, deal_id: str, shopper_id: str) -> WaitlistEntry:
    """The shopper's latest place on the deal's waitlist (waiting, granted, left, lapsed)."""
    entry = (
        await db.execute(
            select(WaitlistEntry).where(
                WaitlistEntry.deal_id == deal_id, WaitlistEntry.shopper_id == shopper_id
            )
        )
    ).scalar_one_or_none()
    if entry is None:
        raise CommerceError.not_found("waitlist entry")
    return entry


async def leave_waitlist(db: AsyncSession, deal_id: str, shopper_id: str) -> WaitlistEntry:
    """Give up the place (the caller commits); only a waiting place can be left."""
    entry = await waitlist_entry(db, deal_id, shopper_id)
    if entry.status != "waiting":
        raise CommerceError(
            "conflict", "not_waiting", f"this place on the waitlist is {entry.status} already"
        )
    entry.status = "left"
    await db.flush()
    return entry


async def waitlist_position(db: AsyncSession, entry: WaitlistEntry) -> int | None:
    if entry.status != "waiting":
        return None
    ahead = await db.execute(
        select(func.count())
        .select_from(WaitlistEntry)
        .where(
            WaitlistEntry.deal_id == entry.deal_id,
            WaitlistEntry.status == "waiting",
            WaitlistEntry.id < entry.id,
        )
    )
    return int(ahead.scalar_one()) + 1


def waitlist_out(entry: WaitlistEntry, position: int | None) -> dict[str, Any]:
    return {
        "id": entry.id,
        "deal_id": entry.deal_id,
        "variant_id": entry.variant_id,
        "quantity": entry.quantity,
        "status": entry.status,
        "reservation_id": entry.reservation_id,
        "position": position,
        "created_at": entry.created_at,
    }
