"""The upsert loop shared by every importer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from pasar.catalog import service
from pasar.catalog.errors import CatalogError
from pasar.catalog.schemas import ImportReport, ImportRowError, ProductIn
from pasar.errors import DomainError

MAX_IMAGE_SRC = 2000  # ProductImage.src is String(2000)


@dataclass
class Candidate:
    """One product as a file describes it, with where each part came from."""

    line: int
    handle: str | None
    data: dict[str, Any] | None = None
    # The file line of each variant, so a variant's error names its own line.
    variant_lines: list[int] = field(default_factory=list)
    images: list[tuple[str, str]] = field(default_factory=list)
    error: str | None = None


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    errors: list[ImportRowError] = field(default_factory=list)


def _validation_message(c: Candidate, exc: ValidationError) -> tuple[int, str]:
    first = exc.errors()[0]
    loc = list(first.get("loc", ()))
    line = c.line
    if (
        len(loc) >= 2
        and loc[0] == "variants"
        and isinstance(loc[1], int)
        and loc[1] < len(c.variant_lines)
    ):
        line = c.variant_lines[loc[1]]
    where = ".".join(str(p) for p in loc)
    return line, f"{where}: {first.get('msg', 'invalid')}" if where else first.get("msg", "invalid")


def _linkable(src: str) -> bool:
    """Only web images fit a link (no ``javascript:``/``data:``) and its column."""
    return (
        src.startswith(("https://", "http://")) and len(src) <= MAX_IMAGE_SRC and "\x00" not in src
    )


async def _upsert(
    db: AsyncSession, vendor_id: str, currency: str, body: ProductIn, c: Candidate
) -> bool:
    existing = await service.find_by_handle(
        db, vendor_id, body.handle or service.slugify(body.title)
    )
    if existing is None:
        product = await service.create_product(db, vendor_id, currency, body)
        created = True
    else:
        product = await service.replace_product(db, existing, body)
        created = False
    known = {i.src for i in product.images}
    for src, alt in c.images:
        if src not in known and _linkable(src):
            service.add_image_link(product, src, alt.replace("\x00", ""))
            known.add(src)
    await db.flush()
    return created


async def run_import(
    db: AsyncSession,
    vendor_id: str,
    default_currency: str,
    candidates: list[Candidate],
    *,
    atomic: bool,
    on_progress: Callable[[int, int], None] | None = None,
) -> ImportResult:
    """Upsert each candidate in its own savepoint. The caller commits.

    With ``atomic`` the first error still lets the rest be checked (so the report
    lists every bad row) but the caller must roll back: ``result.errors`` tells it.
    """
    result = ImportResult()
    total = len(candidates)
    for done, c in enumerate(candidates, start=1):
        if c.error is not None or c.data is None:
            result.errors.append(
                ImportRowError(line=c.line, reason=c.error or "empty", handle=c.handle)
            )
        else:
            try:
                body = ProductIn.model_validate(c.data)
            except ValidationError as exc:
                line, msg = _validation_message(c, exc)
                result.errors.append(ImportRowError(line=line, reason=msg, handle=c.handle))
            else:
                try:
                    async with db.begin_nested():
                        created = await _upsert(db, vendor_id, default_currency, body, c)
                except (DomainError, CatalogError) as exc:
                    result.errors.append(
                        ImportRowError(line=c.line, reason=exc.message, handle=c.handle)
                    )
                else:
                    if created:
                        result.created += 1
                    else:
                        result.updated += 1
        if on_progress:
            on_progress(done, total)
    return result


async def finish_import(db: AsyncSession, result: ImportResult, *, atomic: bool) -> ImportReport:
    """Commit what imported, or nothing at all when an atomic import had errors."""
    if atomic and result.errors:
        await db.rollback()
        created = updated = 0
    else:
        await db.commit()
        created, updated = result.created, result.updated
    return ImportReport(
        created=created,
        updated=updated,
        failed=len(result.errors),
        atomic=atomic,
        errors=result.errors,
    )
