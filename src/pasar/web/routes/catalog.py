"""/api/v1/products: products, variants and images."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Response, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from pasar.catalog import service as catalog
from pasar.catalog.images import clean_image
from pasar.catalog.schemas import (
    ProductIn,
    ProductOut,
    ProductPatch,
    ProductStatus,
    VariantIn,
    VariantOut,
    VariantPatch,
)
from pasar.validation import IsoDateTime
from pasar.vendors.service import get_vendor
from pasar.web import serialize
from pasar.web.deps import CatalogRead, CatalogWrite, Ctx, PageParams, page_params
from pasar.web.errors import responses
from pasar.web.idempotency import IdempotencyDep
from pasar.web.limits import MAX_UPLOAD_BYTES

router = APIRouter(prefix="/api/v1/products", tags=["catalog"], responses=responses(401, 403))


class ProductPage(BaseModel):
    data: list[ProductOut]
    next_cursor: str | None


async def _out(ctx: Ctx, product: Any) -> dict[str, Any]:
    vendor = await get_vendor(ctx.db, ctx.vendor_id)
    return serialize.product(product, vendor.default_locale, ctx.services.storage)


@router.get("", response_model=ProductPage, responses=responses(400, 422))
async def list_products(
    ctx: CatalogRead,
    page: Annotated[PageParams, Depends(page_params)],
    status: ProductStatus | None = None,
    q: Annotated[
        str | None, Query(max_length=200, description="Words in title or description.")
    ] = None,
    sku: Annotated[str | None, Query(max_length=100)] = None,
    handle: Annotated[str | None, Query(max_length=120)] = None,
    updated_after: IsoDateTime | None = None,
) -> dict[str, Any]:
    f = catalog.ProductFilter(
        status=status, q=q, sku=sku, handle=handle, updated_after=updated_after
    )
    result = await catalog.list_products(
        ctx.db, ctx.vendor_id, f, cursor=page.cursor, limit=page.limit
    )
    vendor = await get_vendor(ctx.db, ctx.vendor_id)
    items = [
        serialize.product(p, vendor.default_locale, ctx.services.storage) for p in result.items
    ]
    return {"data": items, "next_cursor": result.next_cursor}


@router.post("", status_code=201, response_model=ProductOut, responses=responses(400, 409, 422))
async def create_product(body: ProductIn, ctx: CatalogWrite, idem: IdempotencyDep) -> JSONResponse:
    if replay := await idem.replay(ctx):
        return replay
    vendor = await get_vendor(ctx.db, ctx.vendor_id)
    product = await catalog.create_product(ctx.db, ctx.vendor_id, vendor.default_currency, body)
    return await idem.commit(ctx, 201, await _out(ctx, product))


@router.get("/{product_id}", response_model=ProductOut, responses=responses(404))
async def get_product(product_id: str, ctx: CatalogRead) -> dict[str, Any]:
    return await _out(ctx, await catalog.get_product(ctx.db, ctx.vendor_id, product_id))


@router.patch("/{product_id}", response_model=ProductOut, responses=responses(400, 404, 409, 422))
async def update_product(product_id: str, body: ProductPatch, ctx: CatalogWrite) -> dict[str, Any]:
    product = await catalog.get_product(ctx.db, ctx.vendor_id, product_id)
    await catalog.update_product(ctx.db, product, body)
    out = await _out(ctx, product)
    await ctx.db.commit()
    return out


@router.put("/{product_id}", response_model=ProductOut, responses=responses(400, 404, 409, 422))
async def replace_product(product_id: str, body: ProductIn, ctx: CatalogWrite) -> dict[str, Any]:
    """Replace the product and its variants; variants whose options match keep their ids."""
    product = await catalog.get_product(ctx.db, ctx.vendor_id, product_id)
    await catalog.replace_product(ctx.db, product, body)
    out = await _out(ctx, product)
    await ctx.db.commit()
    return out


@router.delete("/{product_id}", status_code=204, responses=responses(404))
async def delete_product(product_id: str, ctx: CatalogWrite) -> Response:
    product = await catalog.get_product(ctx.db, ctx.vendor_id, product_id)
    stored = [i.storage_key for i in product.images if i.storage_key]
    await catalog.delete_product(ctx.db, product)
    await ctx.db.commit()
    for key in stored:  # after the commit: a failed delete must not lose the files
        await ctx.services.storage.delete(key)
    return Response(status_code=204)


def _variant_out(product_out: dict[str, Any], variant_id: str) -> dict[str, Any]:
    return next(v for v in product_out["variants"] if v["id"] == variant_id)


@router.post(
    "/{product_id}/variants",
    status_code=201,
    response_model=VariantOut,
    responses=responses(400, 404, 409, 422),
)
async def add_variant(
    product_id: str, body: VariantIn, ctx: CatalogWrite, idem: IdempotencyDep
) -> JSONResponse:
    if replay := await idem.replay(ctx):
        return replay
    product = await catalog.get_product(ctx.db, ctx.vendor_id, product_id)
    variant = await catalog.add_variant(ctx.db, product, body)
    return await idem.commit(ctx, 201, _variant_out(await _out(ctx, product), variant.id))


@router.patch(
    "/{product_id}/variants/{variant_id}",
    response_model=VariantOut,
    responses=responses(400, 404, 409, 422),
)
async def update_variant(
    product_id: str, variant_id: str, body: VariantPatch, ctx: CatalogWrite
) -> dict[str, Any]:
    product = await catalog.get_product(ctx.db, ctx.vendor_id, product_id)
    variant = catalog.get_variant(product, variant_id)
    await catalog.update_variant(ctx.db, product, variant, body)
    out = _variant_out(await _out(ctx, product), variant.id)
    await ctx.db.commit()
    return out


@router.delete(
    "/{product_id}/variants/{variant_id}", status_code=204, responses=responses(404, 409)
)
async def delete_variant(product_id: str, variant_id: str, ctx: CatalogWrite) -> Response:
    product = await catalog.get_product(ctx.db, ctx.vendor_id, product_id)
    await catalog.delete_variant(ctx.db, product, catalog.get_variant(product, variant_id))
    await ctx.db.commit()
    return Response(status_code=204)


@router.post(
    "/{product_id}/images",
    status_code=201,
    max_body_size=MAX_UPLOAD_BYTES,
    response_model=ProductOut,
    responses=responses(400, 404, 413, 422),
)
async def upload_image(
    product_id: str,
    ctx: CatalogWrite,
    file: Annotated[UploadFile, File(description="JPEG, PNG or WebP.")],
    alt: Annotated[str, Form(max_length=300, pattern=r"^[^\x00]*$")] = "",
) -> JSONResponse:
    product = await catalog.get_product(ctx.db, ctx.vendor_id, product_id)
    limits = ctx.services.settings
    raw = await file.read(limits.max_image_bytes + 1)
    image = await clean_image(
        raw, max_bytes=limits.max_image_bytes, max_pixels=limits.max_image_pixels
    )
    await catalog.add_image(ctx.db, ctx.services.storage, product, image, alt)
    out = await _out(ctx, product)
    await ctx.db.commit()
    return JSONResponse(out, status_code=201)


@router.delete("/{product_id}/images/{image_id}", status_code=204, responses=responses(404))
async def delete_image(product_id: str, image_id: str, ctx: CatalogWrite) -> Response:
    product = await catalog.get_product(ctx.db, ctx.vendor_id, product_id)
    await catalog.delete_image(ctx.db, ctx.services.storage, product, image_id)
    await ctx.db.commit()
    return Response(status_code=204)
