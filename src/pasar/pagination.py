"""Cursor pagination over time-sortable ids: stable under inserts, no OFFSET scans."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from pasar.errors import DomainError

T = TypeVar("T")


class PaginationError(DomainError):
    pass


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


def encode_cursor(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = base64.urlsafe_b64decode(padded.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise PaginationError("invalid", "invalid_cursor", "the cursor is not valid") from exc
    if not value or len(value) > 64 or not value.isprintable():
        raise PaginationError("invalid", "invalid_cursor", "the cursor is not valid")
    return value


async def paginate(
    db: AsyncSession,
    stmt: Select[Any],
    id_column: InstrumentedAttribute[str],
    *,
    cursor: str | None,
    limit: int,
) -> Page[Any]:
    if cursor:
        stmt = stmt.where(id_column > decode_cursor(cursor))
    rows = list((await db.execute(stmt.order_by(id_column).limit(limit + 1))).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(items=rows, next_cursor=encode_cursor(rows[-1].id) if more and rows else None)
