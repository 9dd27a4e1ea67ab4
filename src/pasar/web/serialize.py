"""Domain rows to API shapes. Kept here so domains stay free of URLs and locales."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

from pasar.catalog.models import Product, ProductImage
from pasar.catalog.schemas import ImageOut, ProductOut, VariantOut
from pasar.money import format_money
from pasar.shows.models import Show
from pasar.shows.schemas import LineupItem, ShowOut
from pasar.storage import Storage
from pasar.vendors.models import ApiKey, StaffUser, Vendor
from pasar.vendors.schemas import ApiKeyOut, StaffOut, VendorOut

M = TypeVar("M", bound=BaseModel)


def image_url(storage: Storage, image: ProductImage) -> str:
    if image.storage_key:
        return storage.url(image.storage_key)
    return image.src or ""


def from_row(model: type[M], row: object, **computed: Any) -> M:
    """``model`` with each field read from ``row``'s attribute of the same name, except
    the ``computed`` ones (renamed or derived); validated as the constructor would."""
    fields = {name: getattr(row, name) for name in model.model_fields if name not in computed}
    return model.model_validate(fields | computed)


def product(p: Product, locale: str, storage: Storage) -> dict[str, Any]:
    return from_row(
        ProductOut,
        p,
        variants=[
            from_row(
                VariantOut,
                v,
                title=" / ".join(v.option_values) or "Default",
                options=dict(zip(p.options, v.option_values, strict=False)),
                price_display=format_money(v.price, p.currency, locale),
                available=v.stock > 0,
            )
            for v in p.variants
        ],
        images=[from_row(ImageOut, i, url=image_url(storage, i)) for i in p.images],
    ).model_dump(mode="json")


def show(
    s: Show, storage: Storage, public_url: str, playback_url: str | None = None
) -> dict[str, Any]:
    """``playback_url``: the show's HLS on an external media server, if there is one."""
    return from_row(
        ShowOut,
        s,
        cover_url=storage.url(s.cover_key) if s.cover_key else None,
        lineup=[from_row(LineupItem, i) for i in s.lineup],
        playback_url=playback_url or f"{public_url}/hls/{s.id}/index.m3u8",
    ).model_dump(mode="json")


def vendor(v: Vendor) -> dict[str, Any]:
    return VendorOut.model_validate(v, from_attributes=True).model_dump(mode="json")


def staff(u: StaffUser) -> dict[str, Any]:
    return StaffOut.model_validate(u, from_attributes=True).model_dump(mode="json")


def api_key(k: ApiKey) -> dict[str, Any]:
    return ApiKeyOut.model_validate(k, from_attributes=True).model_dump(mode="json")
