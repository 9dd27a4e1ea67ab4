"""Domain rows to API shapes. Kept here so domains stay free of URLs and locales."""

from __future__ import annotations

from typing import Any

from pasar.catalog.models import Product, ProductImage
from pasar.catalog.schemas import ImageOut, ProductOut, VariantOut
from pasar.money import format_money
from pasar.shows.models import Show
from pasar.shows.schemas import LineupItem, ShowOut
from pasar.storage import Storage
from pasar.vendors.models import ApiKey, StaffUser, Vendor
from pasar.vendors.schemas import ApiKeyOut, StaffOut, VendorOut


def image_url(storage: Storage, image: ProductImage) -> str:
    if image.storage_key:
        return storage.url(image.storage_key)
    return image.src or ""


def product(p: Product, locale: str, storage: Storage) -> dict[str, Any]:
    return ProductOut(
        id=p.id,
        handle=p.handle,
        title=p.title,
        description=p.description,
        status=p.status,
        product_url=p.product_url,
        currency=p.currency,
        options=list(p.options),
        variants=[
            VariantOut(
                id=v.id,
                sku=v.sku,
                title=" / ".join(v.option_values) or "Default",
                options=dict(zip(p.options, v.option_values, strict=False)),
                price=v.price,
                compare_at_price=v.compare_at_price,
                price_display=format_money(v.price, p.currency, locale),
                stock=v.stock,
                available=v.stock > 0,
            )
            for v in p.variants
        ],
        images=[
            ImageOut(id=i.id, url=image_url(storage, i), alt=i.alt, width=i.width, height=i.height)
            for i in p.images
        ],
        external_id=p.external_id,
        created_at=p.created_at,
        updated_at=p.updated_at,
    ).model_dump(mode="json")


def show(
    s: Show, storage: Storage, public_url: str, playback_url: str | None = None
) -> dict[str, Any]:
    """``playback_url``: the show's HLS on an external media server, if there is one."""
    return ShowOut(
        id=s.id,
        title=s.title,
        description=s.description,
        state=s.state,
        scheduled_at=s.scheduled_at,
        started_at=s.started_at,
        ended_at=s.ended_at,
        host_user_id=s.host_user_id,
        cover_url=storage.url(s.cover_key) if s.cover_key else None,
        lineup=[LineupItem(product_id=i.product_id, position=i.position) for i in s.lineup],
        playback_url=playback_url or f"{public_url}/hls/{s.id}/index.m3u8",
        created_at=s.created_at,
        updated_at=s.updated_at,
    ).model_dump(mode="json")


def vendor(v: Vendor) -> dict[str, Any]:
    return VendorOut.model_validate(v, from_attributes=True).model_dump(mode="json")


def staff(u: StaffUser) -> dict[str, Any]:
    return StaffOut.model_validate(u, from_attributes=True).model_dump(mode="json")


def api_key(k: ApiKey) -> dict[str, Any]:
    return ApiKeyOut.model_validate(k, from_attributes=True).model_dump(mode="json")
