"""The database record of a deal's units: every claim that reserves is written
here, in batches, before the shopper is answered.

One batch is one transaction for one deal: read the count, the shoppers'
holdings and the batch's idempotency keys, decide every claim in arrival order,
then write the new count, the holdings and all the reservations with a handful
of statements (group commit). The count is taken by an ``UPDATE`` guarded by
what was read (``try_reserve_batch``), so the deal's row lock is held only from
that statement to the commit; when another writer changed the count, the
holdings or recorded one of the same claims in between, the batch is redone
with the lock taken first (``reserve_batch``). Either way the decision is never
made on a stale count: a deal cannot oversell whatever the engine in front of it
believes.

Lock order, the same for every writer of a deal (claims, returns, confirms):
the deal's ``deal_stock`` row first, then its ``deal_shoppers`` rows (sorted by
shopper), then ``reservations`` (inserted sorted by claim key). Every insert of
a reservation happens under the deal's row lock, so an insert never waits on
another transaction's uncommitted row with the same key while that transaction
waits for the deal's row: two nodes claiming the same keys at once queue on the
deal's row instead of deadlocking.

Same key, two nodes at once: a claim whose key is recorded is always a replay
(the keys are looked up before anything is decided). Without the lock the
reads are separate statements, so they are made count, holdings, keys: anything
a committed claim changed in the first two is visible in the last, and a claim
is never refused because of its own units (``limit_reached`` beside the 201 of
its duplicate). A refusal therefore always held when it was decided; a
duplicate that succeeds later means units came back in between.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, cast

from sqlalchemy import ColumnElement, Select, Table, any_, bindparam, insert, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from pasar.commerce.models import DealShopper, DealStock, Reservation
from pasar.db.array_insert import array_insert, as_arrays
from pasar.db.upsert import on_postgres, upsert
from pasar.ids import new_id

RESERVATION_COLUMNS = tuple(c.name for c in Reservation.__table__.columns)
# The batch's statements go through Core tables, not the mapped classes: with
# the ORM in the way every statement paid its compile step and each guarded
# UPDATE evaluated its WHERE against the session (synchronize_session), about a
# third of a recorded claim's server CPU at 2,000 claims/s (docs/benchmarks.md).
_RESERVATIONS = cast(Table, Reservation.__table__)
_STOCK = cast(Table, DealStock.__table__)
_HOLDINGS = cast(Table, DealShopper.__table__)
# On PostgreSQL the batch's two multi-row writes are one statement whatever the
# batch's size (db/array_insert.py): a VALUES list per row was a new statement to
# prepare and parse for every size, and a bound parameter per cell.
_PG_RAISE_HOLDINGS = array_insert(
    _HOLDINGS,
    ("deal_id", "shopper_id", "units"),
    scalars={"deal_id"},
    on_conflict=(
        "ON CONFLICT (deal_id, shopper_id)"
        " DO UPDATE SET units = deal_shoppers.units + excluded.units"
    ),
    returning="units",
)
_PG_INSERT_RESERVATIONS = array_insert(
    _RESERVATIONS,
    RESERVATION_COLUMNS,
    on_conflict="ON CONFLICT (deal_id, claim_key) DO NOTHING",
    returning="id",
)


@dataclass(frozen=True, slots=True)
class DealTerms:
    """What a claim is checked against; immutable for the deal's life (cached)."""

    id: str
    vendor_id: str
    show_id: str
    product_id: str
    variant_ids: tuple[str, ...]
    price: int
    currency: str
    quantity: int
    per_shopper_limit: int
    signed_in_only: bool
    hold_seconds: int
    starts_at: datetime
    ends_at: datetime
    skus: tuple[tuple[str, str | None], ...] = ()  # variant id → SKU, for checkout URLs
    guest_hold_seconds: int | None = None  # a guest's claim holds this long (None: hold_seconds)


@dataclass(frozen=True, slots=True)
class Claim:
    shopper_id: str
    variant_id: str
    quantity: int
    claim_key: str
    fingerprint: str
    pin_id: str | None


# Why a claim got no reservation (each is also its error code).
Refusal = Literal["sold_out", "limit_reached", "not_started", "ended", "not_allowed"]


@dataclass(slots=True)
class Outcome:
    """A claim's answer: a reservation (new or replayed) or a refusal."""

    reservation: dict[str, Any] | None = None
    refusal: Refusal | None = None
    replayed: bool = False
    conflict: bool = False  # the idempotency key was used with another request
    units_left: int = 0
    held: int = 0  # units held by others when refused: the waitlist may serve it
    extra: dict[str, Any] = field(default_factory=dict)


def claim_key(shopper_id: str, idempotency_key: str) -> str:
    """Idempotency keys are the shopper's: the same key from two shoppers is two claims."""
    return hashlib.sha256(f"{shopper_id}\0{idempotency_key}".encode()).hexdigest()


def fingerprint(variant_id: str, quantity: int, pin_id: str | None) -> str:
    return hashlib.sha256(f"{variant_id}\0{quantity}\0{pin_id or ''}".encode()).hexdigest()


async def lock_stock(db: AsyncSession, deal_id: str) -> DealStock | None:
    """Take the deal's row lock (a write, so SQLite and PostgreSQL both serialise here)."""
    row = (
        await db.execute(
            update(_STOCK)
            .where(_STOCK.c.deal_id == deal_id)
            .values(version=_STOCK.c.version + 1)
            .returning(_STOCK.c.remaining, _STOCK.c.sold, _STOCK.c.open)
        )
    ).one_or_none()
    if row is None:
        return None
    return DealStock(deal_id=deal_id, remaining=row[0], sold=row[1], open=row[2])


async def holdings(db: AsyncSession, deal_id: str, shoppers: Sequence[str]) -> dict[str, int]:
    # By shopper alone, the deal picked out here: with ``deal_id = $1`` in the
    # query PostgreSQL planned a new deal (estimated at one row, not yet in the
    # statistics) as a scan of all its holdings, 7 ms a batch at 30,000.
    rows = await db.execute(holdings_query(shoppers, arrays=on_postgres(db)))
    return {shopper: units for deal, shopper, units in rows if deal == deal_id}


def holdings_query(shoppers: Sequence[str], *, arrays: bool = False) -> Select[str, str, int]:
    return select(_HOLDINGS.c.deal_id, _HOLDINGS.c.shopper_id, _HOLDINGS.c.units).where(
        _one_of(_HOLDINGS.c.shopper_id, shoppers, arrays)
    )


def _one_of(column: ColumnElement[str], values: Sequence[str], arrays: bool) -> Any:
    """``column IN (…)``; with ``arrays`` (PostgreSQL), ``column = ANY(:array)``:
    one statement for any number of values, where an IN list is a new one to
    prepare and parse for every count (as ``db/array_insert.py``)."""
    distinct = sorted(set(values))
    if arrays:
        return column == any_(bindparam(None, distinct, type_=ARRAY(column.type)))
    return column.in_(distinct)


async def set_holdings(db: AsyncSession, deal_id: str, units: dict[str, int]) -> None:
    if not units:
        return
    stmt = upsert(db, _HOLDINGS)
    stmt = stmt.on_conflict_do_update(
        index_elements=["deal_id", "shopper_id"], set_={"units": stmt.excluded.units}
    )
    await db.execute(
        stmt, [{"deal_id": deal_id, "shopper_id": s, "units": units[s]} for s in sorted(units)]
    )


@dataclass(slots=True)
class _Decision:
    outcomes: list[Outcome]
    new_rows: list[dict[str, Any]]
    holdings: dict[str, int]  # shopper → units after this batch (changed ones only)
    taken: int


async def _existing(
    db: AsyncSession, deal_id: str, claims: Sequence[Claim]
) -> dict[str, dict[str, Any]]:
    """The batch's claims already recorded (retries), by claim key.

    By key alone, the deal picked out here: with ``deal_id = $1`` in the query,
    PostgreSQL planned a new deal (estimated at one row) as a scan of all its
    reservations filtered by key, 20 ms a batch at 40,000 (migration 0010)."""
    keys = [c.claim_key for c in claims]
    rows = await db.execute(existing_query(keys, arrays=on_postgres(db)))
    return {row.claim_key: dict(row._mapping) for row in rows if row.deal_id == deal_id}


def existing_query(claim_keys: Sequence[str], *, arrays: bool = False) -> Select[Any]:
    return select(*_RESERVATIONS.columns).where(
        _one_of(_RESERVATIONS.c.claim_key, claim_keys, arrays)
    )


def _decide(
    terms: DealTerms,
    claims: Sequence[Claim],
    stock: DealStock,
    existing: dict[str, dict[str, Any]],
    held_by: dict[str, int],
    now: datetime,
) -> _Decision:
    """Every claim in arrival order against the count, the limit and the retries."""
    remaining = stock.remaining
    changed: dict[str, int] = {}
    new_rows: list[dict[str, Any]] = []
    fingerprints: dict[str, str] = {k: r["fingerprint"] for k, r in existing.items()}
    outcomes: list[Outcome] = []
    expires = now + timedelta(seconds=terms.hold_seconds)
    guest_expires = now + timedelta(seconds=terms.guest_hold_seconds or terms.hold_seconds)
    for claim in claims:
        if claim.claim_key in fingerprints:
            conflict = fingerprints[claim.claim_key] != claim.fingerprint
            outcomes.append(Outcome(replayed=not conflict, conflict=conflict))
            continue
        have = held_by.get(claim.shopper_id, 0)
        if not stock.open:
            outcomes.append(Outcome(refusal="ended", extra={"holding": have}))
        elif have + claim.quantity > terms.per_shopper_limit:
            outcomes.append(Outcome(refusal="limit_reached", extra={"holding": have}))
        elif remaining < claim.quantity:
            outcomes.append(Outcome(refusal="sold_out", extra={"holding": have}))
        else:
            remaining -= claim.quantity
            held_by[claim.shopper_id] = changed[claim.shopper_id] = have + claim.quantity
            row = {
                "id": new_id("rsv"),
                "vendor_id": terms.vendor_id,
                "deal_id": terms.id,
                "show_id": terms.show_id,
                "shopper_id": claim.shopper_id,
                "product_id": terms.product_id,
                "variant_id": claim.variant_id,
                "quantity": claim.quantity,
                "unit_price": terms.price,
                "currency": terms.currency,
                "status": "held",
                "claim_key": claim.claim_key,
                "fingerprint": claim.fingerprint,
                "pin_id": claim.pin_id,
                "created_at": now,
                "expires_at": guest_expires if claim.shopper_id.startswith("guest:") else expires,
                "settled_at": None,
                "order_ref": None,
                "order_amount": None,
                "order_currency": None,
            }
            new_rows.append(row)
            fingerprints[claim.claim_key] = claim.fingerprint
            existing[claim.claim_key] = row
            outcomes.append(Outcome(reservation=row))
    # Replays answer with the reservation as it stands (it may be confirmed by now).
    for claim, outcome in zip(claims, outcomes, strict=True):
        if outcome.replayed:
            outcome.reservation = existing[claim.claim_key]
    return _Decision(outcomes, new_rows, changed, stock.remaining - remaining)


def _counted(outcomes: list[Outcome], terms: DealTerms, remaining: int, sold: int) -> None:
    held = terms.quantity - remaining - sold
    for outcome in outcomes:
        outcome.units_left = remaining
        outcome.held = held


async def reserve_batch(
    db: AsyncSession, terms: DealTerms, claims: Sequence[Claim], now: datetime
) -> list[Outcome]:
    """Decide and record a batch of claims for one deal under its row lock, taken
    first (the caller commits). Always succeeds; see ``try_reserve_batch``."""
    stock = await lock_stock(db, terms.id)
    if stock is None:
        return [Outcome(refusal="ended") for _ in claims]
    held_by = await holdings(db, terms.id, [c.shopper_id for c in claims])
    existing = await _existing(db, terms.id, claims)
    decided = _decide(terms, claims, stock, existing, held_by, now)
    remaining = stock.remaining - decided.taken
    if decided.new_rows:
        await db.execute(
            update(_STOCK).where(_STOCK.c.deal_id == terms.id).values(remaining=remaining)
        )
        await set_holdings(db, terms.id, decided.holdings)
        # Core, not the ORM's bulk path: the rows are complete dicts already
        await db.execute(insert(_RESERVATIONS), _by_key(decided.new_rows))
    _counted(decided.outcomes, terms, remaining, stock.sold)
    return decided.outcomes


async def try_reserve_batch(
    db: AsyncSession, terms: DealTerms, claims: Sequence[Claim], now: datetime
) -> list[Outcome] | None:
    """``reserve_batch`` holding the deal's row lock only at the end, or None when
    a write by someone else came in between (the caller rolls back and calls
    ``reserve_batch``).

    The reads and the decision happen without the lock; then one guarded
    ``UPDATE`` takes the units (refused if fewer are left than were read, or the
    deal closed), the holdings are raised by what this batch adds (checked
    against the limit) and the reservations are inserted (a retry of one of
    them recorded meanwhile conflicts). Batches from several nodes overlap
    except for those last statements and the commit, where the lock is held."""
    row = (
        await db.execute(
            select(_STOCK.c.remaining, _STOCK.c.sold, _STOCK.c.open).where(
                _STOCK.c.deal_id == terms.id
            )
        )
    ).one_or_none()
    if row is None:
        return [Outcome(refusal="ended") for _ in claims]
    stock = DealStock(deal_id=terms.id, remaining=row[0], sold=row[1], open=row[2])
    # Keys last: a claim committed after the count or the holdings were read is
    # then seen here, as a replay, rather than refused for its own units.
    held_by = await holdings(db, terms.id, [c.shopper_id for c in claims])
    existing = await _existing(db, terms.id, claims)
    decided = _decide(terms, claims, stock, existing, dict(held_by), now)
    if not decided.new_rows:  # refusals and replays only: nothing to write or lock
        _counted(decided.outcomes, terms, stock.remaining, stock.sold)
        return decided.outcomes
    # The lock, from here to the commit, taken before anything else is written
    # (the module's lock order): deal_stock, deal_shoppers, reservations.
    taken = (
        await db.execute(
            update(_STOCK)
            .where(
                _STOCK.c.deal_id == terms.id,
                _STOCK.c.open.is_(True),
                _STOCK.c.remaining >= decided.taken,
            )
            .values(remaining=_STOCK.c.remaining - decided.taken, version=_STOCK.c.version + 1)
            .returning(_STOCK.c.remaining, _STOCK.c.sold)
        )
    ).one_or_none()
    if taken is None:
        return None
    added = {s: units - held_by.get(s, 0) for s, units in decided.holdings.items()}
    shoppers = sorted(added)
    rows = _by_key(decided.new_rows)
    postgres = on_postgres(db)
    if postgres:
        raised = await db.execute(
            _PG_RAISE_HOLDINGS,
            {"deal_id": terms.id, "shopper_id": shoppers, "units": [added[s] for s in shoppers]},
        )
    else:
        stmt = upsert(db, _HOLDINGS)
        stmt = stmt.on_conflict_do_update(
            index_elements=["deal_id", "shopper_id"],
            set_={"units": _HOLDINGS.c.units + stmt.excluded.units},
        ).returning(_HOLDINGS.c.units)
        raised = await db.execute(
            stmt, [{"deal_id": terms.id, "shopper_id": s, "units": added[s]} for s in shoppers]
        )
    if any(units > terms.per_shopper_limit for (units,) in raised.all()):
        return None  # a shopper's holding grew meanwhile (a claim on another node)
    # A retry of one of these claims recorded meanwhile (another node) conflicts;
    # under the lock, so the conflict is with a committed row, never a wait.
    if postgres:
        inserted = await db.execute(_PG_INSERT_RESERVATIONS, as_arrays(rows, RESERVATION_COLUMNS))
    else:
        inserted = await db.execute(
            upsert(db, _RESERVATIONS)
            .on_conflict_do_nothing(index_elements=["deal_id", "claim_key"])
            .returning(_RESERVATIONS.c.id),
            rows,
        )
    if len(inserted.all()) != len(rows):
        return None
    _counted(decided.outcomes, terms, taken[0], taken[1])
    return decided.outcomes


def _by_key(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Reservations in one order everywhere (their unique index is locked row by row)."""
    return sorted(rows, key=lambda r: str(r["claim_key"]))
