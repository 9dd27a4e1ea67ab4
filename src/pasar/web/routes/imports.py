"""/api/v1/imports: catalog import from CSV or a Shopify products.json export."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, File, Query, UploadFile
from pydantic import HttpUrl

from pasar.catalog.errors import CatalogError
from pasar.catalog.importers import Candidate, finish_import, parse_csv, parse_shopify, run_import
from pasar.catalog.importers.csv import MAX_BYTES, CsvFormatError
from pasar.catalog.importers.shopify import ShopifyFormatError
from pasar.catalog.schemas import ImportReport
from pasar.vendors.service import get_vendor
from pasar.web.deps import CatalogWrite, Ctx
from pasar.web.errors import responses
from pasar.web.limits import MAX_UPLOAD_BYTES

router = APIRouter(prefix="/api/v1/imports", tags=["catalog"], responses=responses(401, 403))
Atomic = Annotated[bool, Query(description="All or nothing: any bad row and nothing imports.")]


async def _read(file: UploadFile) -> bytes:
    data = await file.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise CatalogError(
            "too_large", "file_too_large", f"imports are limited to {MAX_BYTES} bytes"
        )
    return data


async def _import(
    ctx: Ctx, file: UploadFile, parse: Callable[[bytes, str], list[Candidate]], atomic: bool
) -> dict[str, Any]:
    """Parse the upload with the vendor's currency, then upsert; a file the parser
    cannot read is 400 ``invalid_file``."""
    vendor = await get_vendor(ctx.db, ctx.vendor_id)
    try:
        candidates = parse(await _read(file), vendor.default_currency)
    except UnicodeDecodeError as exc:  # CSV; the Shopify parser reports its own
        raise CatalogError("invalid", "invalid_file", "the file is not UTF-8 text") from exc
    except (CsvFormatError, ShopifyFormatError) as exc:
        raise CatalogError("invalid", "invalid_file", str(exc)) from exc
    result = await run_import(
        ctx.db, ctx.vendor_id, vendor.default_currency, candidates, atomic=atomic
    )
    report = await finish_import(ctx.db, result, atomic=atomic)
    return report.model_dump(mode="json")


@router.post(
    "/csv",
    response_model=ImportReport,
    responses=responses(400, 413, 422),
    max_body_size=MAX_UPLOAD_BYTES,
)
async def import_csv(
    ctx: CatalogWrite,
    file: Annotated[UploadFile, File(description="UTF-8 CSV, one row per variant.")],
    atomic: Atomic = False,
) -> dict[str, Any]:
    """Upsert products by handle. The report lists each bad row with its line and reason."""
    return await _import(ctx, file, parse_csv, atomic)


@router.post(
    "/shopify",
    response_model=ImportReport,
    responses=responses(400, 413, 422),
    max_body_size=MAX_UPLOAD_BYTES,
)
async def import_shopify(
    ctx: CatalogWrite,
    file: Annotated[UploadFile, File(description="A Shopify products.json export.")],
    atomic: Atomic = False,
    store_url: Annotated[HttpUrl | None, Query(description="Builds each product_url.")] = None,
) -> dict[str, Any]:
    url = str(store_url) if store_url else None
    return await _import(ctx, file, partial(parse_shopify, store_url=url), atomic)
