"""Pasar's hosted cart, for vendors without a JavaScript integration.

One cart per shopper per vendor, kept in the database (so it survives reloads
and devices, for shoppers the vendor vouches for). The cart stores only what
the shopper chose — variant and quantity, or a held reservation of a flash deal,
and the click token of the tap — and prices every read from the catalog and the
reservations: a client price is never trusted.

Checkout hands the cart to the vendor's checkout through its URL template
(``commerce/checkout.py``): lines and reservation ids in the URL, or only a
short-lived signed ``{cart_token}`` that the vendor's server exchanges for the
lines with ``GET /api/v1/carts/{cart_token}`` (its API key, ``orders:write``).
Each checkout is kept as it was handed over (``cart_checkouts``) and announced
with the ``cart.checkout`` webhook in the same transaction.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from pasar.catalog.models import Product, Variant
from pasar.clock import utcnow
from pasar.commerce import checkout, clicks
from pasar.commerce.errors import CommerceCode, CommerceError
from pasar.commerce.models import Reservation
from pasar.commerce.pins import pin_at
from pasar.commerce.sales_models import Cart, CartCheckout
from pasar.commerce.schemas import HostedCartIn
from pasar.db.tenancy import get_owned
from pasar.db.upsert import upsert
from pasar.errors import ErrorKind
from pasar.ids import new_id
from pasar.money import MAX_MINOR
from pasar.shows.service import get_show
from pasar.vendors.models import Vendor
from pasar.webhooks import enqueue

CART_TOKEN_TTL = timedelta(minutes=30)
TOKEN_PREFIX = "ct1"
PROBLEMS_BY_STATUS: dict[str, CommerceCode] = {
    "expired": "reservation_expired",
    "released": "reservation_released",
    "confirmed": "purchased",
}

ImageUrl = Callable[[Product], str | None]


async def vendor_by_slug(db: AsyncSession, slug: str) -> Vendor:
    vendor = (await db.execute(select(Vendor).where(Vendor.slug == slug))).scalar_one_or_none()
    if vendor is None:
        raise CommerceError.not_found("shop")
    return vendor


async def get_cart(db: AsyncSession, vendor_id: str, shopper_id: str) -> Cart | None:
    found = await db.execute(
        select(Cart).where(Cart.vendor_id == vendor_id, Cart.shopper_id == shopper_id)
    )
    return found.scalar_one_or_none()


# -- reading: every line priced from the record ------------------------------------


async def _variants(
    db: AsyncSession, vendor_id: str, ids: set[str]
) -> dict[str, tuple[Variant, Product]]:
    if not ids:
        return {}
    rows = await db.execute(
        select(Variant, Product)
        .join(Product, Product.id == Variant.product_id)
        .where(Variant.vendor_id == vendor_id, Variant.id.in_(ids))
    )
    return {v.id: (v, p) for v, p in rows}


async def _reservations(
    db: AsyncSession, vendor_id: str, shopper_id: str, ids: set[str]
) -> dict[str, Reservation]:
    if not ids:
        return {}
    rows = await db.execute(
        select(Reservation).where(
            Reservation.vendor_id == vendor_id,
            Reservation.shopper_id == shopper_id,
            Reservation.id.in_(ids),
        )
    )
    return {r.id: r for r in rows.scalars()}


def _reservation_problem(r: Reservation, now: datetime) -> CommerceCode | None:
    if r.status == "held":
        return "reservation_expired" if r.expires_at <= now else None
    return PROBLEMS_BY_STATUS.get(r.status, "reservation_released")


async def priced_lines(
    db: AsyncSession,
    vendor_id: str,
    shopper_id: str,
    stored: list[dict[str, Any]],
    image_url: ImageUrl,
    now: datetime,
) -> list[dict[str, Any]]:
    """The stored lines with today's prices and what stands in the way of each.

    Lines whose variant or reservation no longer exists are left out."""
    holds = await _reservations(
        db, vendor_id, shopper_id, {x["reservation_id"] for x in stored if x.get("reservation_id")}
    )
    variant_ids = {x["variant_id"] for x in stored} | {r.variant_id for r in holds.values()}
    catalog = await _variants(db, vendor_id, variant_ids)
    out = []
    for line in stored:
        r = holds.get(line.get("reservation_id") or "")
        if line.get("reservation_id") and r is None:
            continue
        found = catalog.get(r.variant_id if r else line["variant_id"])
        if found is None:
            continue
        variant, product = found
        problem: CommerceCode | None
        if r is not None:
            quantity, unit_price, currency = r.quantity, r.unit_price, r.currency
            problem = _reservation_problem(r, now)
        else:
            quantity, unit_price, currency = line["quantity"], variant.price, product.currency
            problem = None
            if product.status != "active":
                problem = "unavailable"
            elif variant.stock < quantity:
                problem = "out_of_stock"
        out.append(
            {
                "variant_id": variant.id,
                "sku": variant.sku,
                "product_id": product.id,
                "title": product.title,
                "variant_title": " / ".join(variant.option_values),
                "quantity": quantity,
                "unit_price": unit_price,
                "line_total": quantity * unit_price,
                "currency": currency,
                "image_url": image_url(product),
                "reservation_id": r.id if r else None,
                "reservation_expires_at": r.expires_at if r else None,
                "deal_id": r.deal_id if r else None,
                "show_id": r.show_id if r else line.get("show_id"),
                "pin_id": r.pin_id if r else line.get("pin_id"),
                "pasar_click": line.get("pasar_click"),
                "problem": problem,
            }
        )
    return out


def cart_out(
    vendor_id: str, shopper_id: str, cart: Cart | None, lines: list[dict[str, Any]]
) -> dict[str, Any]:
    good = [x for x in lines if x["problem"] is None]
    return {
        "id": cart.id if cart else None,
        "vendor_id": vendor_id,
        "shopper_id": shopper_id,
        "show_id": cart.show_id if cart else None,
        "lines": lines,
        "subtotal": sum(x["line_total"] for x in good),
        "currency": lines[0]["currency"] if lines else None,
        "item_count": sum(x["quantity"] for x in good),
        "checkout_url": None,
        "updated_at": cart.updated_at if cart else None,
    }


# -- writing: the shopper's choice, checked line by line ------------------------------


@dataclass
class _Chosen:
    variant_id: str
    quantity: int
    reservation_id: str | None
    click: str | None
    show_id: str | None
    pin_id: str | None


def _line_error(
    kind: ErrorKind, code: CommerceCode, message: str, index: int, **more: Any
) -> CommerceError:
    return CommerceError(kind, code, f"line {index}: {message}", {"line": index, **more})


async def _checked_click(
    db: AsyncSession,
    secret: str,
    vendor_id: str,
    token: str | None,
    product_id: str,
    now: datetime,
    index: int,
) -> tuple[str | None, str | None, str | None]:
    """(token, show_id, pin_id) of a line's click; an expired click is dropped."""
    if token is None:
        return None, None, None
    try:
        click = clicks.verify(secret, token, vendor_id)
    except CommerceError as exc:
        raise _line_error(exc.kind, exc.code, exc.message, index) from None
    if click.expires_at <= now:
        return None, None, None
    if click.product_id == product_id:
        return token, click.show_id, click.pin_id
    return token, click.show_id, await pin_at(db, click.show_id, product_id, click.at)


async def put_cart(
    db: AsyncSession,
    secret: str,
    vendor_id: str,
    shopper_id: str,
    body: HostedCartIn,
) -> Cart:
    """Replace the shopper's cart (the caller commits). Any bad line refuses the whole
    request with the line's index, and nothing changes."""
    now = utcnow()
    if body.show_id is not None:
        await get_show(db, vendor_id, body.show_id)
    holds = await _reservations(
        db, vendor_id, shopper_id, {x.reservation_id for x in body.lines if x.reservation_id}
    )
    catalog = await _variants(
        db,
        vendor_id,
        {x.variant_id for x in body.lines if x.variant_id} | {r.variant_id for r in holds.values()},
    )
    chosen: list[_Chosen] = []
    currency: str | None = None
    for i, line in enumerate(body.lines):
        if line.reservation_id is not None:
            r = holds.get(line.reservation_id)
            if r is None:
                raise _line_error("not_found", "not_found", "reservation not found", i)
            problem = _reservation_problem(r, now)
            if problem is not None:
                raise _line_error("conflict", problem, f"the reservation is {r.status}", i)
            if line.variant_id is not None and line.variant_id != r.variant_id:
                raise _line_error("invalid", "variant_mismatch", "not the reservation's variant", i)
            if line.quantity is not None and line.quantity != r.quantity:
                raise _line_error(
                    "invalid",
                    "quantity_mismatch",
                    f"the reservation holds {r.quantity} unit(s)",
                    i,
                    quantity=r.quantity,
                )
            if any(c.reservation_id == r.id for c in chosen):
                raise _line_error("invalid", "duplicate_reservation", "a reservation twice", i)
            line_currency = r.currency
            token, _, _ = await _checked_click(
                db, secret, vendor_id, line.pasar_click, r.product_id, now, i
            )
            chosen.append(_Chosen(r.variant_id, r.quantity, r.id, token, r.show_id, r.pin_id))
        else:
            assert line.variant_id is not None and line.quantity is not None
            found = catalog.get(line.variant_id)
            if found is None:
                raise _line_error("not_found", "not_found", "variant not found", i)
            variant, product = found
            if product.status != "active":
                raise _line_error("conflict", "unavailable", "the product is not for sale", i)
            line_currency = product.currency
            token, show_id, pin_id = await _checked_click(
                db, secret, vendor_id, line.pasar_click, product.id, now, i
            )
            same = next(
                (c for c in chosen if c.reservation_id is None and c.variant_id == variant.id),
                None,
            )
            if same is not None:
                same.quantity += line.quantity
                same.click = same.click or token
                same.show_id, same.pin_id = same.show_id or show_id, same.pin_id or pin_id
            else:
                same = _Chosen(variant.id, line.quantity, None, token, show_id, pin_id)
                chosen.append(same)
            if same.quantity > variant.stock:
                raise _line_error(
                    "conflict",
                    "out_of_stock",
                    f"only {variant.stock} left",
                    i,
                    available=variant.stock,
                )
        if currency is not None and line_currency != currency:
            raise _line_error(
                "invalid",
                "currency_mismatch",
                f"priced in {line_currency}; the cart is in {currency}",
                i,
            )
        currency = line_currency
    stored = [
        {
            "variant_id": c.variant_id,
            "quantity": c.quantity,
            "reservation_id": c.reservation_id,
            "pasar_click": c.click,
            "show_id": c.show_id,
            "pin_id": c.pin_id,
        }
        for c in chosen
    ]
    show_id = body.show_id or next((c.show_id for c in chosen if c.show_id), None)
    stmt = upsert(db, Cart).values(
        id=new_id("cart"),
        vendor_id=vendor_id,
        shopper_id=shopper_id,
        show_id=show_id,
        lines=stored,
        created_at=now,
        updated_at=now,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["vendor_id", "shopper_id"],
        set_={"lines": stored, "show_id": show_id, "updated_at": now},
    )
    await db.execute(stmt)
    cart = await get_cart(db, vendor_id, shopper_id)
    assert cart is not None
    await db.refresh(cart)
    return cart


async def clear_cart(db: AsyncSession, vendor_id: str, shopper_id: str) -> None:
    cart = await get_cart(db, vendor_id, shopper_id)
    if cart is not None:
        cart.lines, cart.updated_at = [], utcnow()
        await db.flush()


# -- checkout --------------------------------------------------------------------------


def _mac(secret: str, body: str) -> str:
    key = hmac.new(secret.encode(), b"pasar-cart-token", hashlib.sha256).digest()
    digest = hmac.new(key, body.encode(), hashlib.sha256).digest()[:18]
    return base64.urlsafe_b64encode(digest).decode()


def sign_token(secret: str, checkout_id: str, expires_at: datetime) -> str:
    body = f"{TOKEN_PREFIX}.{checkout_id}.{int(expires_at.timestamp())}"
    return f"{body}.{_mac(secret, body)}"


def read_token(secret: str, token: str, now: datetime) -> str:
    """The checkout id a cart token names; ``not_found`` for anything else."""
    parts = token.split(".")
    # Tokens are ASCII by construction; anything else (a lone surrogate even
    # fails to encode) is refused before it reaches the MAC.
    if len(parts) != 4 or parts[0] != TOKEN_PREFIX or not token.isascii():
        raise CommerceError.not_found("cart")
    body = ".".join(parts[:3])
    # Bytes, not str: compare_digest raises TypeError on non-ASCII text.
    if not hmac.compare_digest(parts[3].encode(), _mac(secret, body).encode()):
        raise CommerceError.not_found("cart")
    try:
        expires = datetime.fromtimestamp(int(parts[2]), UTC)
    except (ValueError, OverflowError, OSError):
        raise CommerceError.not_found("cart") from None
    if expires <= now:
        raise CommerceError(
            "not_found", "cart_token_expired", "the cart token has expired; ask the shopper again"
        )
    return parts[1]


def checkout_out(chk: CartCheckout) -> dict[str, Any]:
    return {
        "id": chk.id,
        "cart_id": chk.cart_id,
        "shopper_id": chk.shopper_id,
        "show_id": chk.show_id,
        "lines": chk.lines,
        "reservation_ids": [x["reservation_id"] for x in chk.lines if x.get("reservation_id")],
        "subtotal": chk.subtotal,
        "currency": chk.currency,
        "item_count": chk.item_count,
        "created_at": chk.created_at,
        "expires_at": chk.expires_at,
    }


@dataclass(frozen=True, slots=True)
class HandedOver:
    checkout: CartCheckout
    url: str
    token: str


CHECKOUT_LINE_KEYS = (
    "variant_id product_id sku title quantity unit_price line_total reservation_id deal_id "
    "show_id pin_id pasar_click"
).split()


async def check_out(
    db: AsyncSession,
    secret: str,
    vendor: Vendor,
    shopper_id: str,
    image_url: ImageUrl,
) -> HandedOver:
    """Hand the cart to the vendor's checkout (the caller commits)."""
    template = vendor.checkout_url_template
    if not template or not checkout.is_safe(template):  # unsafe: saved before the check
        raise CommerceError(
            "conflict",
            "no_checkout",
            "this shop has not set up a checkout URL for Pasar's cart; "
            "its owner sets checkout_url_template with PATCH /api/v1/vendor",
        )
    now = utcnow()
    cart = await get_cart(db, vendor.id, shopper_id)
    lines = await priced_lines(
        db, vendor.id, shopper_id, cart.lines if cart else [], image_url, now
    )
    if cart is None or not lines:
        raise CommerceError("conflict", "cart_empty", "the cart is empty")
    problems = [{"line": i, "problem": x["problem"]} for i, x in enumerate(lines) if x["problem"]]
    if problems:
        raise CommerceError(
            "conflict",
            "cart_invalid",
            "some lines cannot be bought now; update the cart",
            {"lines": problems},
        )
    subtotal = sum(x["line_total"] for x in lines)
    if subtotal > MAX_MINOR:
        raise CommerceError("invalid", "invalid_amount", "the cart's total is out of range")
    show_id = cart.show_id or next((x["show_id"] for x in lines if x["show_id"]), None)
    chk = CartCheckout(
        id=new_id("chk"),
        vendor_id=vendor.id,
        cart_id=cart.id,
        shopper_id=shopper_id,
        show_id=show_id,
        lines=[{k: x[k] for k in CHECKOUT_LINE_KEYS} for x in lines],
        subtotal=subtotal,
        currency=lines[0]["currency"],
        item_count=sum(x["quantity"] for x in lines),
        created_at=now,
        expires_at=now + CART_TOKEN_TTL,
    )
    db.add(chk)
    await db.flush()
    token = sign_token(secret, chk.id, chk.expires_at)
    url = checkout.render(
        template,
        [
            checkout.Line(x["variant_id"], x["sku"], x["quantity"], x["reservation_id"])
            for x in lines
        ],
        show_id,
        cart_token=token,
    )
    await enqueue(db, vendor.id, "cart.checkout", {**checkout_out(chk), "checkout_url": url})
    return HandedOver(chk, url, token)


async def get_checkout(db: AsyncSession, vendor_id: str, checkout_id: str) -> CartCheckout:
    return await get_owned(
        db, CartCheckout, vendor_id, checkout_id, CommerceError.not_found("cart")
    )
