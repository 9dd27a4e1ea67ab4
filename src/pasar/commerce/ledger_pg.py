"""The group commit's per-claim statements in PostgreSQL's array form.

The portable forms (``IN (…)`` lists, multi-row ``VALUES``) are new SQL text for
every batch size: PostgreSQL parses and plans each, and the driver prepares each
(its statement cache rarely hits, as batch sizes vary). Here every batch, of any
size, runs the same few statements, with one array parameter per column
(``= ANY($n)``, ``unnest``): prepared once per connection, planned once, and the
rows travel as arrays. Same rows, same order (the arrays' order: the ledger's lock
order), same results as the portable forms, which SQLite keeps using.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, any_, bindparam, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import String

from pasar.commerce.models import DealShopper, Reservation

_RESERVATIONS = cast(Table, Reservation.__table__)
_SHOPPERS = cast(Table, DealShopper.__table__)
_COLUMNS = [c.name for c in _RESERVATIONS.columns]
_PG = postgresql.dialect()  # type: ignore[no-untyped-call]


def is_postgres(db: AsyncSession) -> bool:
    return db.get_bind().dialect.name == "postgresql"


def _array_of(name: str) -> str:
    return f"CAST(:{name} AS {_RESERVATIONS.c[name].type.compile(dialect=_PG)}[])"


# ORDER BY the arrays' position: rows are written in the order given (the lock order).
_INSERT_RESERVATIONS = text(
    f"INSERT INTO reservations ({', '.join(_COLUMNS)}) "
    f"SELECT {', '.join(_COLUMNS)} FROM unnest({', '.join(_array_of(c) for c in _COLUMNS)}) "
    f"WITH ORDINALITY AS r({', '.join(_COLUMNS)}, ord) ORDER BY ord "
    "ON CONFLICT (deal_id, claim_key) DO NOTHING RETURNING id"
)
_RAISE_HOLDINGS = text(
    "INSERT INTO deal_shoppers (deal_id, shopper_id, units) "
    "SELECT :deal_id, shopper_id, units "
    "FROM unnest(CAST(:shoppers AS VARCHAR(80)[]), CAST(:units AS INTEGER[])) "
    "WITH ORDINALITY AS h(shopper_id, units, ord) ORDER BY ord "
    "ON CONFLICT (deal_id, shopper_id) DO UPDATE "
    "SET units = deal_shoppers.units + excluded.units RETURNING units"
)


async def holdings(db: AsyncSession, deal_id: str, shoppers: Sequence[str]) -> dict[str, int]:
    rows = await db.execute(
        select(_SHOPPERS.c.shopper_id, _SHOPPERS.c.units).where(
            _SHOPPERS.c.deal_id == deal_id,
            _SHOPPERS.c.shopper_id
            == any_(bindparam("shoppers", sorted(set(shoppers)), type_=postgresql.ARRAY(String))),
        )
    )
    return {shopper: units for shopper, units in rows}


async def existing(db: AsyncSession, deal_id: str, keys: set[str]) -> dict[str, dict[str, Any]]:
    rows = await db.execute(
        select(*_RESERVATIONS.columns).where(
            _RESERVATIONS.c.deal_id == deal_id,
            _RESERVATIONS.c.claim_key
            == any_(bindparam("keys", sorted(keys), type_=postgresql.ARRAY(String))),
        )
    )
    return {row.claim_key: dict(row._mapping) for row in rows}


async def raise_holdings(db: AsyncSession, deal_id: str, added: dict[str, int]) -> list[int]:
    """Each shopper's units raised by ``added`` (in shopper order); the new totals."""
    shoppers = sorted(added)
    found = await db.execute(
        _RAISE_HOLDINGS,
        {"deal_id": deal_id, "shoppers": shoppers, "units": [added[s] for s in shoppers]},
    )
    return [units for (units,) in found.all()]


async def insert_reservations(db: AsyncSession, rows: list[dict[str, Any]]) -> int:
    """Insert the rows in the order given, skipping claim keys recorded meanwhile;
    how many were inserted."""
    params = {name: [row[name] for row in rows] for name in _COLUMNS}
    found = await db.execute(_INSERT_RESERVATIONS, params)
    return len(found.all())
