"""Reading one vendor's row: the tenant check every domain makes the same way.

A row of another vendor is reported exactly like a missing one, so an id never
tells a caller that it exists elsewhere.
"""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import ColumnElement, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession

from pasar.db.base import TenantMixin

Row = TypeVar("Row", bound=TenantMixin)


async def get_owned(
    db: AsyncSession,
    model: type[Row],
    vendor_id: str,
    row_id: str,
    missing: Exception,
    *also: ColumnElement[bool],
) -> Row:
    """The vendor's row with this id (and the extra conditions), or ``missing`` raised:
    the domain's not-found error."""
    (key,) = inspect(model).primary_key  # every tenant table has a single-column id
    stmt = select(model).where(model.vendor_id == vendor_id, key == row_id, *also)
    row = (await db.execute(stmt)).scalar_one_or_none()
    if row is None:
        raise missing
    return row
