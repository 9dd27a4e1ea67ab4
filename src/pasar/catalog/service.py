"""Catalog operations, always scoped by vendor id."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from pasar.catalog.errors import CatalogError
from pasar.catalog.images import CleanImage
from pasar.catalog.models import Product, ProductImage, Variant
from pasar.catalog.schemas import ProductIn, ProductPatch, ProductStatus, VariantIn, VariantPatch
from pasar.clock import utcnow
from pasar.db.tenancy import get_owned
from pasar.ids import new_id
from pasar.money import validate_currency
from pasar.pagination import Page, paginate
from pasar.storage import Storage


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:100] or "product"


def _ordered_values(options: list[str], given: dict[str, str], where: str) -> list[str]:
    if set(given) != set(options):
        raise CatalogError(
            "invalid",
            "invalid_variant_options",
            f"{where}: give exactly one value for each option {options or '(none)'}",
            {"expected": options, "given": sorted(given)},
        )
    return [given[name] for name in options]


def _check_variants(product: Product) -> None:
    seen: set[tuple[str, ...]] = set()
    skus: set[str] = set()
    for v in product.variants:
        key = tuple(v.option_values)
        if key in seen:
            raise CatalogError(
                "invalid", "duplicate_variant", f"two variants have the options {list(key)}"
            )
        seen.add(key)
        if v.sku:
            if v.sku in skus:
                raise CatalogError("invalid", "duplicate_sku", f"SKU '{v.sku}' is used twice")
            skus.add(v.sku)
    if not product.options and len(product.variants) > 1:
        raise CatalogError(
            "invalid", "duplicate_variant", "a product without options has exactly one variant"
        )


def _new_variant(product: Product, body: VariantIn, position: int) -> Variant:
    return Variant(
        id=new_id("var"),
        vendor_id=product.vendor_id,
        sku=body.sku,
        option_values=_ordered_values(product.options, body.options, f"variant {position + 1}"),
        price=body.price,
        compare_at_price=body.compare_at_price,
        stock=body.stock,
        position=position,
    )


def _touch(product: Product) -> None:
    """Variants and images are part of the product: changing them changes the product
    (``updated_after`` sync relies on it), even when no product column changes."""
    product.updated_at = utcnow()


async def _flush(db: AsyncSession) -> None:
    try:
        await db.flush()
    except IntegrityError as exc:
        text = str(exc.orig).lower()
        if "sku" in text:
            raise CatalogError("conflict", "sku_taken", "a variant with this SKU exists") from exc
        if "external_id" in text:
            raise CatalogError(
                "conflict", "external_id_taken", "a product with this external_id exists"
            ) from exc
        raise CatalogError("conflict", "handle_taken", "a product with this handle exists") from exc


async def _free_handle(db: AsyncSession, vendor_id: str, base: str) -> str:
    """``base``, or ``base-2``, ``base-3`` … when products already use it: two products
    may share a title, and only an explicitly given handle must be unique."""
    taken = set(
        (
            await db.execute(
                select(Product.handle).where(
                    Product.vendor_id == vendor_id,
                    or_(Product.handle == base, Product.handle.like(f"{base}-%")),
                )
            )
        ).scalars()
    )
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


async def create_product(
    db: AsyncSession, vendor_id: str, default_currency: str, body: ProductIn
) -> Product:
    product = Product(
        id=new_id("prod"),
        vendor_id=vendor_id,
        handle=body.handle or await _free_handle(db, vendor_id, slugify(body.title)),
        title=body.title,
        description=body.description,
        status=body.status,
        product_url=str(body.product_url) if body.product_url else None,
        currency=validate_currency(body.currency or default_currency),
        options=list(body.options),
        external_id=body.external_id,
        variants=[],
        images=[],
    )
    product.variants = [_new_variant(product, v, i) for i, v in enumerate(body.variants)]
    _check_variants(product)
    db.add(product)
    await _flush(db)
    return product


async def replace_product(db: AsyncSession, product: Product, body: ProductIn) -> Product:
    """Make ``product`` match ``body``, keeping variant ids where the options match
    (so carts and deals that point at a variant survive a re-import)."""
    product.title = body.title
    if body.handle:
        product.handle = body.handle
    product.description = body.description
    product.status = body.status
    product.product_url = str(body.product_url) if body.product_url else None
    if body.currency:
        product.currency = validate_currency(body.currency)
    if body.external_id:
        product.external_id = body.external_id
    same_axes = list(body.options) == list(product.options)
    product.options = list(body.options)
    existing = {tuple(v.option_values): v for v in product.variants} if same_axes else {}
    # Release this product's SKUs first: the unique index is checked row by row, so a
    # SKU that moves to another variant (or swaps) must be free before it is taken.
    if any(v.sku for v in product.variants):
        for v in product.variants:
            v.sku = None
        await db.flush()
    kept: list[Variant] = []
    for i, incoming in enumerate(body.variants):
        values = tuple(_ordered_values(product.options, incoming.options, f"variant {i + 1}"))
        current = existing.pop(values, None)
        if current is None:
            kept.append(_new_variant(product, incoming, i))
            continue
        current.sku = incoming.sku
        current.price = incoming.price
        current.compare_at_price = incoming.compare_at_price
        current.stock = incoming.stock
        current.position = i
        kept.append(current)
    product.variants = kept
    _check_variants(product)
    _touch(product)
    await _flush(db)
    return product


async def get_product(db: AsyncSession, vendor_id: str, product_id: str) -> Product:
    return await get_owned(db, Product, vendor_id, product_id, CatalogError.not_found("product"))


async def find_by_handle(db: AsyncSession, vendor_id: str, handle: str) -> Product | None:
    return (
        await db.execute(
            select(Product).where(Product.vendor_id == vendor_id, Product.handle == handle)
        )
    ).scalar_one_or_none()


@dataclass(frozen=True, slots=True)
class ProductFilter:
    status: ProductStatus | None = None
    q: str | None = None
    sku: str | None = None
    handle: str | None = None
    updated_after: datetime | None = None


def _filtered(vendor_id: str, f: ProductFilter) -> Select[Any]:
    stmt = select(Product).where(Product.vendor_id == vendor_id)
    if f.status:
        stmt = stmt.where(Product.status == f.status)
    if f.handle:
        stmt = stmt.where(Product.handle == f.handle)
    if f.q:
        escaped = f.q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        like = f"%{escaped}%"
        stmt = stmt.where(
            or_(
                func.lower(Product.title).like(like, escape="\\"),
                func.lower(Product.description).like(like, escape="\\"),
            )
        )
    if f.sku:
        stmt = stmt.where(
            Product.id.in_(
                select(Variant.product_id).where(
                    Variant.vendor_id == vendor_id, Variant.sku == f.sku
                )
            )
        )
    if f.updated_after:
        stmt = stmt.where(Product.updated_at > f.updated_after)
    return stmt


async def list_products(
    db: AsyncSession, vendor_id: str, f: ProductFilter, *, cursor: str | None, limit: int
) -> Page[Product]:
    return await paginate(db, _filtered(vendor_id, f), Product.id, cursor=cursor, limit=limit)


async def update_product(db: AsyncSession, product: Product, body: ProductPatch) -> Product:
    data = body.model_dump(exclude_unset=True)
    for field in ("title", "description", "status", "handle"):
        if data.get(field) is not None:
            setattr(product, field, data[field])
    if "product_url" in data:
        product.product_url = str(body.product_url) if body.product_url else None
    if "external_id" in data:
        product.external_id = body.external_id
    await _flush(db)
    return product


async def delete_product(db: AsyncSession, product: Product) -> None:
    await db.delete(product)
    await db.flush()


def get_variant(product: Product, variant_id: str) -> Variant:
    for v in product.variants:
        if v.id == variant_id:
            return v
    raise CatalogError.not_found("variant")


async def add_variant(db: AsyncSession, product: Product, body: VariantIn) -> Variant:
    position = max((v.position for v in product.variants), default=-1) + 1
    variant = _new_variant(product, body, position)
    product.variants.append(variant)
    _check_variants(product)
    _touch(product)
    await _flush(db)
    return variant


async def update_variant(
    db: AsyncSession, product: Product, variant: Variant, body: VariantPatch
) -> Variant:
    data = body.model_dump(exclude_unset=True)
    if body.options is not None:
        variant.option_values = _ordered_values(product.options, body.options, "variant")
    for field in ("sku", "price", "stock"):
        if data.get(field) is not None:
            setattr(variant, field, data[field])
    if "compare_at_price" in data:
        variant.compare_at_price = body.compare_at_price
    _check_variants(product)
    _touch(product)
    await _flush(db)
    return variant


async def delete_variant(db: AsyncSession, product: Product, variant: Variant) -> None:
    if len(product.variants) == 1:
        raise CatalogError(
            "conflict", "last_variant", "a product keeps at least one variant; delete the product"
        )
    product.variants.remove(variant)
    _touch(product)
    await db.flush()


async def products_by_ids(db: AsyncSession, vendor_id: str, ids: list[str]) -> list[Product]:
    if not ids:
        return []
    rows = await db.execute(
        select(Product).where(Product.vendor_id == vendor_id, Product.id.in_(ids))
    )
    return list(rows.scalars())


def get_image(product: Product, image_id: str) -> ProductImage:
    for img in product.images:
        if img.id == image_id:
            return img
    raise CatalogError.not_found("image")


async def add_image(
    db: AsyncSession, storage: Storage, product: Product, image: CleanImage, alt: str
) -> ProductImage:
    image_id = new_id("img")
    key = f"vendors/{product.vendor_id}/images/{image_id}.{image.extension}"
    await storage.put(key, image.data)
    row = ProductImage(
        id=image_id,
        vendor_id=product.vendor_id,
        product_id=product.id,
        storage_key=key,
        alt=alt[:300],
        width=image.width,
        height=image.height,
        content_type=image.content_type,
        size_bytes=len(image.data),
        position=max((i.position for i in product.images), default=-1) + 1,
    )
    product.images.append(row)
    _touch(product)
    await db.flush()
    return row


def add_image_link(product: Product, src: str, alt: str = "") -> ProductImage:
    """An image the vendor hosts itself (imports carry these); nothing is fetched."""
    row = ProductImage(
        id=new_id("img"),
        vendor_id=product.vendor_id,
        product_id=product.id,
        src=src,
        alt=alt[:300],
        position=max((i.position for i in product.images), default=-1) + 1,
    )
    product.images.append(row)
    return row


async def delete_image(db: AsyncSession, storage: Storage, product: Product, image_id: str) -> None:
    image = get_image(product, image_id)
    product.images.remove(image)
    _touch(product)
    await db.flush()
    if image.storage_key:
        await storage.delete(image.storage_key)
