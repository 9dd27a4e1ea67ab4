"""``pasar demo``: the demo vendor "Toko Demo" with a dozen products and a show.

Running it again keeps the data and issues a fresh password and API key, since
earlier ones were printed once and may be lost.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from pasar.bootstrap import add_vendor_with_owner, open_services
from pasar.catalog import service as catalog
from pasar.catalog.images import clean_image
from pasar.catalog.schemas import ProductIn
from pasar.clock import utcnow
from pasar.commerce import deals, pins
from pasar.commerce.schemas import DealIn
from pasar.demo import catalogue as shop_catalogue
from pasar.demo.pictures import product_picture
from pasar.settings import Settings
from pasar.shows import service as shows
from pasar.shows.models import Show
from pasar.shows.schemas import ShowIn
from pasar.vendors import service as vendors
from pasar.vendors.errors import VendorError
from pasar.vendors.models import ApiKey, StaffUser, Vendor
from pasar.vendors.scopes import ALL_SCOPES

SLUG = "toko-demo"
EMAIL = "owner@toko-demo.example"
SHOW_TITLE = "Harbolnas 12.12 — Batik & Beauty Live"
LIVE_TITLE = "Live now: Toko Demo studio (synthetic broadcast)"
CHECKOUT_TEMPLATE = "https://toko-demo.example/checkout?items={lines}&pasar={reservation_ids}"


@dataclass(frozen=True)
class DemoInfo:
    email: str
    password: str
    api_key: str
    show_id: str
    show_title: str
    products: int
    live_show_id: str  # the show `pasar demo` broadcasts to
    live_stream_key: str


def storefront_origins(storefront_url: str) -> list[str]:
    """The demo shop's origin as printed, and its other loopback spelling: a browser
    sends whichever the shopper typed (127.0.0.1 or localhost)."""
    parts = urlsplit(storefront_url)
    origin = f"{parts.scheme}://{parts.netloc}".lower()
    host, port = parts.hostname or "", f":{parts.port}" if parts.port else ""
    twin = {"127.0.0.1": "localhost", "localhost": "127.0.0.1"}.get(host)
    return [origin] + ([f"{parts.scheme}://{twin}{port}"] if twin else [])


async def seed_demo(settings: Settings, storefront_url: str | None = None) -> DemoInfo:
    """Seed (or refresh) Toko Demo. With ``storefront_url`` (the demo shop `pasar demo`
    serves on another origin): that origin may embed the player and take shopper
    actions, and the products' pages are the shop's."""
    password = secrets.token_urlsafe(9)
    catalogue = shop_catalogue.load()
    async with open_services(settings) as services, services.db.session() as db:
        try:
            vendor = await vendors.get_vendor_by_slug(db, SLUG)
        except VendorError:
            created = await add_vendor_with_owner(
                db, services, name="Toko Demo", slug=SLUG, email=EMAIL, password=password
            )
            vendor = await vendors.get_vendor(db, created.vendor_id)
        owner = (
            await db.execute(
                select(StaffUser).where(StaffUser.vendor_id == vendor.id, StaffUser.email == EMAIL)
            )
        ).scalar_one()
        await vendors.set_password(db, services.passwords, owner, password)
        if vendor.allowed_origins == []:
            vendor.allowed_origins = [settings.resolved_public_url]
        if storefront_url is not None:
            # Normalised as PATCH /vendor stores them (lower case, no trailing slash).
            vendor.allowed_origins = sorted(
                {*vendor.allowed_origins, *storefront_origins(storefront_url)}
            )
        # Earlier demo keys were printed once; revoke them so only the new one works.
        for key in (
            await db.execute(select(ApiKey).where(ApiKey.vendor_id == vendor.id))
        ).scalars():
            if key.revoked_at is None:
                key.revoked_at = utcnow()
        api_key = await vendors.create_api_key(
            db, vendor.id, name="demo", scopes=sorted(ALL_SCOPES), created_by=owner.id
        )
        product_ids = []
        for item in catalogue:
            product = await catalog.find_by_handle(db, vendor.id, item.handle)
            if product is None:
                product = await catalog.create_product(db, vendor.id, "IDR", _product_in(item))
                picture = await clean_image(
                    product_picture(item.title, item.colour),
                    max_bytes=settings.max_image_bytes,
                    max_pixels=settings.max_image_pixels,
                )
                await catalog.add_image(db, services.storage, product, picture, item.title)
            if storefront_url is not None:
                # The player links a product to its page on the vendor's site: here,
                # the demo shop (its port may differ from one run to the next).
                product.product_url = _product_url(storefront_url, item.handle)
            product_ids.append(product.id)
        show = (
            await db.execute(
                select(Show).where(Show.vendor_id == vendor.id, Show.title == SHOW_TITLE)
            )
        ).scalar_one_or_none()
        if show is None:
            show = await shows.create_show(
                db,
                services.box,
                vendor.id,
                ShowIn(
                    title=SHOW_TITLE,
                    description=(
                        "Flash deals every 15 minutes. Batik from Pekalongan, skincare, kopi Gayo."
                    ),
                    scheduled_at=utcnow() + timedelta(hours=1),
                    host_user_id=owner.id,
                    product_ids=product_ids[:8],
                ),
            )
        # The show the demo broadcasts: the running one, or a new one when the
        # last has ended (its recording stays as a replay).
        live = (
            (
                await db.execute(
                    select(Show)
                    .where(
                        Show.vendor_id == vendor.id,
                        Show.title == LIVE_TITLE,
                        Show.state.in_(["scheduled", "live"]),
                    )
                    .order_by(Show.created_at.desc())
                )
            )
            .scalars()
            .first()
        )
        if live is None:
            live = await shows.create_show(
                db,
                services.box,
                vendor.id,
                ShowIn(
                    title=LIVE_TITLE,
                    description="A test pattern with a UTC clock and a 440 Hz tone, over WHIP.",
                    scheduled_at=utcnow(),
                    host_user_id=owner.id,
                    product_ids=product_ids[8:] + product_ids[:2],
                ),
            )
        await _shop_window(db, vendor, live, settings)
        await db.commit()
        return DemoInfo(
            EMAIL,
            password,
            api_key.secret,
            show.id,
            SHOW_TITLE,
            len(product_ids),
            live.id,
            shows.reveal_stream_key(services.box, live),
        )


async def _shop_window(db: AsyncSession, vendor: Vendor, live: Show, settings: Settings) -> None:
    """What a shopper meets on the live show: a pinned product, a running flash
    deal, and a checkout to be handed to (a placeholder shop on a reserved domain)."""
    if vendor.checkout_url_template is None:
        vendor.checkout_url_template = CHECKOUT_TEMPLATE
    await db.refresh(live, ["lineup"])
    first = live.lineup[0].product_id
    if not await pins.active_pins(db, live.id):
        await pins.pin_product(db, live, first, "demo", None)
    if not await deals.running_deals(db, live.id):
        product = await catalog.get_product(db, vendor.id, first)
        await deals.create_deal(
            db,
            live,
            DealIn(
                product_id=first,
                variant_ids=[product.variants[0].id],
                title=f"Flash deal: {product.title}",
                price=product.variants[0].price * 7 // 10 // 100 * 100,  # 30 % off, round
                currency=product.currency,
                quantity=50,
                per_shopper_limit=2,
                duration_seconds=6 * 3600,
            ),
            settings.deal_hold_seconds,
        )


def _product_url(shop: str, handle: str) -> str:
    return f"{shop.rstrip('/')}/products/{handle}"


def _product_in(item: shop_catalogue.ShopProduct) -> ProductIn:
    return ProductIn.model_validate(
        {
            "title": item.title,
            "handle": item.handle,
            "description": item.description,
            "product_url": _product_url("https://toko-demo.example", item.handle),
            "currency": shop_catalogue.CURRENCY,
            "options": item.options,
            "variants": [
                {
                    "sku": v.sku,
                    "options": v.options,
                    "price": v.price,
                    "compare_at_price": v.compare_at,
                    "stock": v.stock,
                }
                for v in item.variants
            ],
        }
    )


__all__ = ["DemoInfo", "seed_demo", "storefront_origins"]
