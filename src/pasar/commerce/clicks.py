"""Click tokens: attribution without cookies.

When a shopper taps a product (or "buy") in the player, the embed asks the
Storefront API for a click token (``POST /storefront/shows/{id}/clicks``). The
token says, signed with the server's secret, which vendor, show, product (and
variant), which pin was on screen, when, and who tapped. The embed hands it to
the vendor's page with the add-to-cart or checkout event; the vendor's checkout
keeps it with the order and sends it back as ``pasar_click`` when it reports the
order. Nothing is stored on the shopper's device or in Pasar until then, and
nothing but the vendor's own checkout ever carries the token.

Format: ``pc1.<base64url JSON>.<base64url HMAC-SHA256, 16 bytes>``. A token is
good for ``CLICK_TTL`` (7 days); an expired one is ignored, a forged one refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from pasar.catalog.models import Product, Variant
from pasar.commerce.errors import CommerceError
from pasar.commerce.pins import pin_at
from pasar.shows.models import Show

CLICK_TTL = timedelta(days=7)
PREFIX = "pc1"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class Click:
    vendor_id: str
    show_id: str
    product_id: str
    variant_id: str | None
    pin_id: str | None
    shopper_id: str | None
    at: datetime

    @property
    def expires_at(self) -> datetime:
        return self.at + CLICK_TTL


def _key(server_secret: str) -> bytes:
    return hmac.new(server_secret.encode(), b"pasar-click-token", hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(server_secret: str, body: str) -> str:
    return _b64(hmac.new(_key(server_secret), body.encode(), hashlib.sha256).digest()[:16])


async def pin_clicked(
    db: AsyncSession, show: Show, product_id: str, variant_id: str | None, at: datetime
) -> str | None:
    """The pin of the product on screen ``at`` (None between pins). A product of
    the show's line-up or pinned in it, and a variant of it: else not found."""
    lineup = {item.product_id for item in show.lineup}
    product = (
        await db.execute(
            select(Product.id).where(Product.vendor_id == show.vendor_id, Product.id == product_id)
        )
    ).scalar_one_or_none()
    pin_id = await pin_at(db, show.id, product_id, at)
    if product is None or (product_id not in lineup and pin_id is None):
        raise CommerceError.not_found("product")
    if variant_id is not None:
        variant = (
            await db.execute(
                select(Variant.id).where(Variant.product_id == product_id, Variant.id == variant_id)
            )
        ).scalar_one_or_none()
        if variant is None:
            raise CommerceError.not_found("variant")
    return pin_id


def sign(server_secret: str, click: Click) -> str:
    payload = {
        "v": click.vendor_id,
        "s": click.show_id,
        "p": click.product_id,
        "x": click.variant_id,
        "n": click.pin_id,
        "u": click.shopper_id,
        "t": (click.at - EPOCH) // MICROSECOND,  # exact: a pin a moment before still counts
    }
    body = _b64(json.dumps(payload, separators=(",", ":")).encode())
    return f"{PREFIX}.{body}.{_mac(server_secret, body)}"


NOT_THIS_SHOPS = "is not valid for this shop"


def _refused(why: str) -> CommerceError:
    return CommerceError("invalid", "invalid_click", f"the pasar_click token {why}")


def verify(server_secret: str, token: str, vendor_id: str) -> Click:
    """The click, or CommerceError ``invalid_click`` (not Pasar's, altered, or
    another vendor's). Expiry is the caller's call (``Click.expires_at``)."""
    parts = token.split(".")
    # Tokens are ASCII by construction; anything else (a lone surrogate even
    # fails to encode) is refused before it reaches the MAC.
    if len(parts) != 3 or parts[0] != PREFIX or not token.isascii():
        raise _refused("is malformed")
    body, mac = parts[1], parts[2]
    # Bytes, not str: compare_digest raises TypeError on non-ASCII text.
    if not hmac.compare_digest(mac.encode(), _mac(server_secret, body).encode()):
        raise _refused(NOT_THIS_SHOPS)
    try:
        data = json.loads(_unb64(body))
        click = Click(
            vendor_id=str(data["v"]),
            show_id=str(data["s"]),
            product_id=str(data["p"]),
            variant_id=data["x"],
            pin_id=data["n"],
            shopper_id=data["u"],
            at=EPOCH + int(data["t"]) * MICROSECOND,
        )
    except (ValueError, KeyError, TypeError, OverflowError):
        raise _refused("is malformed") from None
    if click.vendor_id != vendor_id:
        # The same words as a forged token: a shop holding a token cannot learn
        # from the answer whether it is another shop's or no one's.
        raise _refused(NOT_THIS_SHOPS)
    return click
