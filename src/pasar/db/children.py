"""Loading the child rows of many parents in one query, grouped by parent."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from pasar.db.base import Base

Child = TypeVar("Child", bound=Base)


async def children_by_parent(
    db: AsyncSession,
    model: type[Child],
    parent_id: InstrumentedAttribute[str],
    parent_ids: Collection[str],
    *order_by: ColumnElement[Any] | InstrumentedAttribute[Any],
) -> defaultdict[str, list[Child]]:
    """``model``'s rows whose ``parent_id`` is one of ``parent_ids``, in ``order_by`` order,
    by parent id; a parent without children reads as an empty list."""
    grouped: defaultdict[str, list[Child]] = defaultdict(list)
    if not parent_ids:
        return grouped
    rows = await db.execute(select(model).where(parent_id.in_(parent_ids)).order_by(*order_by))
    for row in rows.scalars():
        grouped[getattr(row, parent_id.key)].append(row)
    return grouped
