"""Orders the vendor's checkout took, and what sold them.

An order comes in two ways: the vendor reports it (``POST /orders``), or the
vendor's checkout confirms a reservation with an order reference, which records
the order (or adds the reservation to the order with that reference). Both may
happen for one order: reporting an order that so far is known only from
confirmed reservations completes it (``reported`` turns true); reporting it a
second time is ``409 order_exists``.

Each line is attributed to a show, the pin that was on screen and the deal, in
this order of evidence:

1. its **reservation** (a deal claim): the deal's show, the deal, and the pin
   the shopper claimed from (checked: it must be that show's pin of that
   product), else the product's pin on screen when the claim was made;
2. a **click token** (the line's, else the order's ``pasar_click``): the
   clicked show; the pin in the token for the clicked product, else the line's
   product's pin on screen at the time of the click;
3. the order's **show_id** (and ``pin_id``): that show; the given pin for its
   product, else the product's pin on screen when the order was placed.

Lines with none of these stay unattributed. Sums are per currency, in Python
integers (a SQL SUM of BIGINTs can overflow on SQLite).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from pasar.catalog.models import Product, Variant
from pasar.clock import utcnow
from pasar.commerce import clicks
from pasar.commerce.errors import CommerceError, reservation_state
from pasar.commerce.models import Pin, Reservation
from pasar.commerce.pins import pin_at
from pasar.commerce.sales_models import Order, OrderLine
from pasar.commerce.schemas import ConfirmIn, OrderIn
from pasar.db.children import children_by_parent
from pasar.db.tenancy import get_owned
from pasar.ids import new_id
from pasar.money import MAX_MINOR
from pasar.pagination import Page, paginate
from pasar.shows.service import get_show
from pasar.webhooks import enqueue

SOLD_STATUSES = ("held", "confirmed")


@dataclass
class _Spec:
    """A line being put together from the report, before it becomes a row."""

    quantity: int
    unit_price: int
    amount: int
    variant_id: str | None = None
    product_id: str | None = None
    sku: str | None = None
    title: str | None = None
    click: clicks.Click | None = None
    reservation: Reservation | None = None


@dataclass
class Recorded:
    order: Order
    lines: list[OrderLine] = field(default_factory=list)
    created: bool = True


# -- reading -------------------------------------------------------------------------


async def by_ref(db: AsyncSession, vendor_id: str, order_ref: str) -> Order | None:
    found = await db.execute(
        select(Order).where(Order.vendor_id == vendor_id, Order.order_ref == order_ref)
    )
    return found.scalar_one_or_none()


async def lines_of(db: AsyncSession, order_ids: Sequence[str]) -> dict[str, list[OrderLine]]:
    return await children_by_parent(
        db, OrderLine, OrderLine.order_id, order_ids, OrderLine.order_id, OrderLine.position
    )


async def get_order(db: AsyncSession, vendor_id: str, order_id: str) -> Recorded:
    order = await get_owned(db, Order, vendor_id, order_id, CommerceError.not_found("order"))
    return Recorded(order, (await lines_of(db, [order.id]))[order.id], False)


async def list_orders(
    db: AsyncSession, vendor_id: str, *, show_id: str | None, cursor: str | None, limit: int
) -> Page[Recorded]:
    stmt = select(Order).where(Order.vendor_id == vendor_id)
    if show_id:
        in_show = select(OrderLine.order_id).where(
            OrderLine.vendor_id == vendor_id, OrderLine.show_id == show_id
        )
        stmt = stmt.where(Order.id.in_(in_show))
    page = await paginate(db, stmt, Order.id, cursor=cursor, limit=limit)
    lines = await lines_of(db, [o.id for o in page.items])
    return Page([Recorded(o, lines[o.id], False) for o in page.items], page.next_cursor)


def line_out(line: OrderLine) -> dict[str, Any]:
    keys = (
        "id variant_id product_id sku title quantity unit_price amount currency attributed_by "
        "show_id pin_id deal_id reservation_id acted_at"
    ).split()
    return {k: getattr(line, k) for k in keys}


def order_out(recorded: Recorded) -> dict[str, Any]:
    o = recorded.order
    keys = (
        "id order_ref amount currency placed_at show_id shopper_id source reported "
        "created_at updated_at"
    ).split()
    data = {k: getattr(o, k) for k in keys}
    data["lines"] = [line_out(line) for line in recorded.lines]
    return data


# -- attribution --------------------------------------------------------------------


async def _claimed_pin(db: AsyncSession, row: Reservation) -> str | None:
    """The pin a reservation was claimed from. The shopper's browser names it, so it
    counts only when it is that show's pin of that product; else the product's pin
    on screen at the time of the claim."""
    if row.pin_id:
        found = await db.execute(
            select(Pin.id).where(
                Pin.id == row.pin_id,
                Pin.vendor_id == row.vendor_id,
                Pin.show_id == row.show_id,
                Pin.product_id == row.product_id,
            )
        )
        if found.scalar_one_or_none() is not None:
            return row.pin_id
    return await pin_at(db, row.show_id, row.product_id, row.created_at)


async def _attribute(
    db: AsyncSession,
    line: OrderLine,
    spec: _Spec,
    *,
    show_id: str | None,
    pin: Pin | None,
    placed_at: datetime,
) -> None:
    r, click = spec.reservation, spec.click
    if r is not None:
        line.attributed_by, line.show_id, line.deal_id = "reservation", r.show_id, r.deal_id
        line.reservation_id, line.acted_at = r.id, r.created_at
        line.pin_id = await _claimed_pin(db, r)
    elif click is not None:
        line.attributed_by, line.show_id, line.acted_at = "click", click.show_id, click.at
        if click.pin_id and click.product_id == line.product_id:
            line.pin_id = click.pin_id
        elif line.product_id:
            line.pin_id = await pin_at(db, click.show_id, line.product_id, click.at)
    elif show_id is not None:
        line.attributed_by, line.show_id = "show", show_id
        if pin is not None and pin.product_id == line.product_id:
            line.pin_id = pin.id
        elif line.product_id:
            line.pin_id = await pin_at(db, show_id, line.product_id, placed_at)


# -- recording -------------------------------------------------------------------------


def _click(secret: str, token: str | None, vendor_id: str, now: datetime) -> clicks.Click | None:
    if token is None:
        return None
    click = clicks.verify(secret, token, vendor_id)
    return click if click.expires_at > now else None  # expired: no longer evidence


async def _reservations(
    db: AsyncSession, vendor_id: str, ids: Sequence[str], currency: str, order: Order | None
) -> list[Reservation]:
    if not ids:
        return []
    found = {
        r.id: r
        for r in (
            await db.execute(
                select(Reservation).where(
                    Reservation.vendor_id == vendor_id, Reservation.id.in_(ids)
                )
            )
        ).scalars()
    }
    out = []
    for rid in ids:
        row = found.get(rid)
        if row is None:
            raise CommerceError.not_found("reservation")
        if row.status not in SOLD_STATUSES:
            raise CommerceError(
                "conflict",
                reservation_state(row.status),
                f"reservation {rid} is {row.status}: its units were not sold",
            )
        if row.currency != currency:
            raise CommerceError(
                "invalid",
                "currency_mismatch",
                f"reservation {rid} is in {row.currency}, the order in {currency}",
            )
        out.append(row)
    taken = await db.execute(
        select(OrderLine.reservation_id, OrderLine.order_id).where(
            OrderLine.reservation_id.in_(ids)
        )
    )
    for taken_id, order_id in taken:
        if order is None or order_id != order.id:
            raise CommerceError(
                "conflict",
                "reservation_in_other_order",
                f"reservation {taken_id} belongs to another order",
                {"order_id": order_id},
            )
    return out


async def _catalog(
    db: AsyncSession, vendor_id: str, variant_ids: set[str], skus: set[str]
) -> tuple[dict[str, tuple[Variant, Product]], dict[str, tuple[Variant, Product]]]:
    if not variant_ids and not skus:
        return {}, {}
    rows = await db.execute(
        select(Variant, Product)
        .join(Product, Product.id == Variant.product_id)
        .where(
            Variant.vendor_id == vendor_id,
            Variant.id.in_(variant_ids) | Variant.sku.in_(skus),
        )
    )
    by_id: dict[str, tuple[Variant, Product]] = {}
    by_sku: dict[str, tuple[Variant, Product]] = {}
    for variant, product in rows:
        by_id[variant.id] = (variant, product)
        if variant.sku:
            by_sku[variant.sku] = (variant, product)
    return by_id, by_sku


async def _specs(
    db: AsyncSession, secret: str, vendor_id: str, body: OrderIn, now: datetime
) -> list[_Spec]:
    by_id, by_sku = await _catalog(
        db,
        vendor_id,
        {line.variant_id for line in body.lines if line.variant_id},
        {line.sku for line in body.lines if line.sku and not line.variant_id},
    )
    specs = []
    for i, line in enumerate(body.lines):
        spec = _Spec(
            quantity=line.quantity,
            unit_price=line.unit_price,
            amount=line.amount if line.amount is not None else line.quantity * line.unit_price,
            sku=line.sku,
            title=line.title,
            click=_click(secret, line.pasar_click, vendor_id, now),
        )
        known = by_id.get(line.variant_id) if line.variant_id else by_sku.get(line.sku or "")
        if line.variant_id and known is None:
            raise CommerceError("not_found", "not_found", "variant not found", {"line": i})
        if known is not None:
            variant, product = known
            if line.sku and variant.sku and line.sku != variant.sku:
                raise CommerceError(
                    "invalid",
                    "sku_mismatch",
                    f"line {i}: variant {variant.id} has SKU {variant.sku}, not {line.sku}",
                )
            spec.variant_id, spec.product_id = variant.id, product.id
            spec.sku = variant.sku or line.sku
            spec.title = line.title or product.title
        specs.append(spec)
    return specs


async def _order_pin(
    db: AsyncSession, vendor_id: str, pin_id: str | None, show_id: str | None
) -> Pin | None:
    if pin_id is None:
        return None
    pin = await get_owned(db, Pin, vendor_id, pin_id, CommerceError.not_found("pin"))
    if show_id is not None and pin.show_id != show_id:
        raise CommerceError("invalid", "pin_not_in_show", "the pin is not of the order's show")
    return pin


def _new_line(order: Order, spec: _Spec, position: int) -> OrderLine:
    return OrderLine(
        id=new_id("orl"),
        vendor_id=order.vendor_id,
        order_id=order.id,
        position=position,
        variant_id=spec.variant_id,
        product_id=spec.product_id,
        sku=spec.sku,
        title=spec.title,
        quantity=spec.quantity,
        unit_price=spec.unit_price,
        amount=spec.amount,
        currency=order.currency,
    )


def _reservation_spec(r: Reservation, amount: int | None = None) -> _Spec:
    return _Spec(
        quantity=r.quantity,
        unit_price=r.unit_price,
        amount=amount if amount is not None else r.quantity * r.unit_price,
        variant_id=r.variant_id,
        product_id=r.product_id,
        reservation=r,
    )


async def _flush(db: AsyncSession, order_ref: str) -> None:
    try:
        await db.flush()
    except IntegrityError:
        # Another request recorded the same order (or sold the same reservation)
        # between our checks and our insert.
        raise CommerceError(
            "conflict", "order_exists", f"order {order_ref} was recorded meanwhile; retry"
        ) from None


def _not_yet_recorded(specs: list[_Spec], lines: list[OrderLine]) -> list[_Spec]:
    """The reported lines an order made by confirmations does not hold yet: a line of
    a confirmed reservation's variant is that reservation (its units, at least)."""
    have = {line.reservation_id: line for line in lines if line.reservation_id}
    kept = [s for s in specs if s.reservation is None or s.reservation.id not in have]
    named = {s.reservation.id for s in specs if s.reservation is not None}
    for rid, line in have.items():
        if rid in named:
            continue
        same = next(
            (s for s in kept if s.reservation is None and s.variant_id == line.variant_id), None
        )
        if same is None or line.variant_id is None:
            continue
        if same.quantity <= line.quantity:
            kept.remove(same)
        else:
            same.quantity -= line.quantity
            same.amount = same.quantity * same.unit_price
    return kept


async def record(db: AsyncSession, secret: str, vendor_id: str, body: OrderIn) -> Recorded:
    """Record a reported order with its attribution (the caller commits, after
    ``announce``). Completes an order made by confirming reservations."""
    now = utcnow()
    existing = await by_ref(db, vendor_id, body.order_ref)
    if existing is not None and existing.reported:
        raise CommerceError(
            "conflict",
            "order_exists",
            f"order {body.order_ref} is recorded already",
            {"order_id": existing.id},
        )
    if existing is not None and existing.currency != body.currency:
        raise CommerceError(
            "conflict",
            "currency_mismatch",
            f"order {body.order_ref} is in {existing.currency} (from its confirmed reservations)",
        )
    show_id = (await get_show(db, vendor_id, body.show_id)).id if body.show_id else None
    pin = await _order_pin(db, vendor_id, body.pin_id, show_id)
    if pin is not None and show_id is None:
        show_id = pin.show_id
    order_click = _click(secret, body.pasar_click, vendor_id, now)
    reservations = await _reservations(db, vendor_id, body.reservation_ids, body.currency, existing)
    specs = await _specs(db, secret, vendor_id, body, now)
    for spec in specs:
        spec.click = spec.click or order_click
    for r in reservations:
        match = next(
            (s for s in specs if s.reservation is None and s.variant_id == r.variant_id), None
        )
        if match is not None:
            match.reservation = r
        else:
            specs.append(_reservation_spec(r))

    placed_at = body.placed_at or now
    lines: list[OrderLine] = []
    if existing is None:
        order = Order(
            id=new_id("ord"),
            vendor_id=vendor_id,
            order_ref=body.order_ref,
            source="api",
            created_at=now,
        )
        db.add(order)
    else:
        order = existing
        lines = (await lines_of(db, [order.id]))[order.id]
        specs = _not_yet_recorded(specs, lines)
    order.amount, order.currency, order.placed_at = body.amount, body.currency, placed_at
    order.shopper_id = body.shopper_id or order.shopper_id
    order.reported, order.updated_at = True, now
    await _flush(db, body.order_ref)
    for spec in specs:
        line = _new_line(order, spec, len(lines))
        await _attribute(db, line, spec, show_id=show_id, pin=pin, placed_at=placed_at)
        db.add(line)
        lines.append(line)
    order.show_id = show_id or order.show_id or next((x.show_id for x in lines if x.show_id), None)
    if order.shopper_id is None:
        order.shopper_id = next(
            (s.click.shopper_id for s in specs if s.click and s.click.shopper_id), None
        )
    await _flush(db, body.order_ref)
    return Recorded(order, lines, existing is None)


async def record_confirmation(db: AsyncSession, row: Reservation, body: ConfirmIn) -> Recorded:
    """The vendor's checkout confirmed ``row`` with an order reference: record the order,
    or add the reservation to the order with that reference (the caller commits)."""
    now = utcnow()
    created = False
    taken = (
        await db.execute(select(OrderLine).where(OrderLine.reservation_id == row.id))
    ).scalar_one_or_none()
    if taken is not None:
        return await get_order(db, row.vendor_id, taken.order_id)
    order = await by_ref(db, row.vendor_id, body.order_ref)
    if order is None:
        created = True
        order = Order(
            id=new_id("ord"),
            vendor_id=row.vendor_id,
            order_ref=body.order_ref,
            amount=body.amount,
            currency=row.currency,
            placed_at=now,
            show_id=row.show_id,
            shopper_id=row.shopper_id,
            source="checkout",
            reported=False,
            created_at=now,
            updated_at=now,
        )
        db.add(order)
        await _flush(db, body.order_ref)
        lines: list[OrderLine] = []
    else:
        if order.currency != row.currency:
            raise CommerceError(
                "conflict",
                "currency_mismatch",
                f"order {body.order_ref} is in {order.currency}, the reservation in {row.currency}",
            )
        lines = (await lines_of(db, [order.id]))[order.id]
        if not order.reported:
            if order.amount + body.amount > MAX_MINOR:
                raise CommerceError("invalid", "invalid_amount", "the order total is out of range")
            order.amount += body.amount
        order.updated_at = now
        # A reported line of the same variant without its reservation gets it now.
        same = next(
            (
                x
                for x in lines
                if x.reservation_id is None
                and x.variant_id == row.variant_id
                and x.attributed_by != "reservation"
            ),
            None,
        )
        if same is not None:
            spec = _reservation_spec(row, same.amount)
            await _attribute(db, same, spec, show_id=None, pin=None, placed_at=order.placed_at)
            await _flush(db, body.order_ref)
            return Recorded(order, lines, False)
    line = _new_line(order, _reservation_spec(row, body.amount), len(lines))
    await _attribute(db, line, _reservation_spec(row), show_id=None, pin=None, placed_at=now)
    db.add(line)
    lines.append(line)
    order.show_id = order.show_id or row.show_id
    await _flush(db, body.order_ref)
    return Recorded(order, lines, created)


async def announce(db: AsyncSession, recorded: Recorded) -> None:
    """``order.attributed`` in the caller's transaction, when any line is attributed."""
    if any(line.attributed_by for line in recorded.lines):
        await enqueue(db, recorded.order.vendor_id, "order.attributed", order_out(recorded))


# -- a show's sales --------------------------------------------------------------------


@dataclass
class _Sum:
    revenue: int = 0
    units: int = 0
    orders: set[str] = field(default_factory=set)

    def add(self, order_id: str, units: int, amount: int) -> None:
        self.revenue += amount
        self.units += units
        self.orders.add(order_id)

    def out(self, currency: str) -> dict[str, Any]:
        return {
            "currency": currency,
            "revenue": self.revenue,
            "units": self.units,
            "orders": len(self.orders),
        }


def _ranked(sums: dict[tuple[str | None, str], _Sum]) -> list[tuple[str | None, str, _Sum]]:
    return sorted(
        ((key, cur, s) for (key, cur), s in sums.items()),
        key=lambda t: (t[1], -t[2].revenue, t[0] or ""),
    )


async def show_sales(db: AsyncSession, vendor_id: str, show_id: str) -> dict[str, Any]:
    """Revenue from a show's attributed lines per currency, product, pin and deal."""
    show = await get_show(db, vendor_id, show_id)
    rows = await db.execute(
        select(
            OrderLine.order_id,
            OrderLine.product_id,
            OrderLine.pin_id,
            OrderLine.deal_id,
            OrderLine.quantity,
            OrderLine.amount,
            OrderLine.currency,
        ).where(OrderLine.vendor_id == vendor_id, OrderLine.show_id == show.id)
    )
    totals: dict[str, _Sum] = defaultdict(_Sum)
    products: dict[tuple[str | None, str], _Sum] = defaultdict(_Sum)
    pins: dict[tuple[str | None, str], _Sum] = defaultdict(_Sum)
    deals: dict[tuple[str | None, str], _Sum] = defaultdict(_Sum)
    for order_id, product_id, pin_id, deal_id, quantity, amount, currency in rows:
        totals[currency].add(order_id, quantity, amount)
        products[(product_id, currency)].add(order_id, quantity, amount)
        if pin_id:
            pins[(pin_id, currency)].add(order_id, quantity, amount)
        if deal_id:
            deals[(deal_id, currency)].add(order_id, quantity, amount)
    pin_rows = await db.execute(
        select(Pin.id, Pin.product_id, Pin.pinned_at).where(
            Pin.id.in_({key for key, _ in pins if key})
        )
    )
    pin_info = {pid: (product, at) for pid, product, at in pin_rows}
    return {
        "show_id": show.id,
        "totals": [totals[c].out(c) for c in sorted(totals)],
        "by_product": [{"product_id": k, **s.out(c)} for k, c, s in _ranked(products)],
        "by_pin": [
            {
                "pin_id": k,
                "product_id": pin_info.get(k or "", (None, None))[0],
                "pinned_at": pin_info.get(k or "", (None, None))[1],
                **s.out(c),
            }
            for k, c, s in _ranked(pins)
        ],
        "by_deal": [{"deal_id": k, **s.out(c)} for k, c, s in _ranked(deals)],
    }
