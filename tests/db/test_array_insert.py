"""PostgreSQL's array insert: rows in the order given, NULLs and zones kept, a
conflict clause applied, and one prepared statement whatever the batch's size."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import BigInteger, Column, Integer, MetaData, String, Table, text

from pasar.db.array_insert import array_insert, as_arrays
from pasar.db.base import UTCDateTime
from pasar.db.engine import Database
from tests.conftest import service_missing

pytestmark = pytest.mark.postgres

ITEMS = Table(
    "array_insert_items",
    MetaData(),
    Column("id", String(40), primary_key=True),
    Column("batch", String(40), nullable=False),
    Column("n", Integer, nullable=False),
    Column("big", BigInteger, nullable=True),
    Column("at", UTCDateTime, nullable=False),
)
COLUMNS = ("id", "batch", "n", "big", "at")
INSERT = array_insert(
    ITEMS, COLUMNS, scalars={"batch"}, on_conflict="ON CONFLICT (id) DO NOTHING", returning="id, n"
)


@pytest.fixture
async def db(postgres_url: str | Exception) -> AsyncIterator[Database]:
    if isinstance(postgres_url, Exception):
        service_missing("PostgreSQL", str(postgres_url))
    assert isinstance(postgres_url, str)
    database = Database(postgres_url)
    async with database.engine.begin() as conn:
        await conn.execute(text("DROP TABLE IF EXISTS array_insert_items"))
        await conn.run_sync(ITEMS.create)
    yield database
    async with database.engine.begin() as conn:
        await conn.execute(text("DROP TABLE array_insert_items"))
    await database.dispose()


def _rows(start: int, count: int) -> list[dict[str, object]]:
    at = datetime(2026, 12, 12, 12, tzinfo=UTC)
    return [
        {
            "id": f"i{start + k:04d}",
            "n": start + k,
            "big": None if k % 2 else 2**40 + k,
            "at": at + timedelta(seconds=k),
        }
        for k in range(count)
    ]


async def test_rows_go_in_in_order_with_nulls_zones_and_conflicts(db: Database) -> None:
    rows = list(reversed(_rows(0, 5)))  # not the key's order: the order given counts
    async with db.session() as session:
        done = await session.execute(
            INSERT, {"batch": "b1", **as_arrays(rows, ("id", "n", "big", "at"))}
        )
        assert [r.id for r in done] == [r["id"] for r in rows]
        # Two of them again with one new: the conflict clause keeps the old ones.
        again = [rows[0], *_rows(100, 1), rows[1]]
        more = await session.execute(
            INSERT, {"batch": "b2", **as_arrays(again, ("id", "n", "big", "at"))}
        )
        assert [r.id for r in more] == ["i0100"]
        stored = (await session.execute(text("SELECT * FROM array_insert_items ORDER BY id"))).all()
        await session.commit()
    assert len(stored) == 6
    first = next(r for r in stored if r.id == "i0000")
    assert (
        first.batch == "b1"
        and first.big == 2**40
        and first.at == datetime(2026, 12, 12, 12, tzinfo=UTC)
    )
    assert next(r for r in stored if r.id == "i0001").big is None


async def test_any_batch_size_is_one_prepared_statement(db: Database) -> None:
    """A VALUES list per row was a new statement for asyncpg to prepare (and for
    PostgreSQL to parse) at every batch size."""
    async with db.session() as session:
        start = 0
        for size in (1, 5, 17, 2, 40):
            rows = _rows(start, size)
            start += size
            await session.execute(
                INSERT, {"batch": "b", **as_arrays(rows, ("id", "n", "big", "at"))}
            )
        prepared = await session.scalar(
            text(
                "SELECT count(*) FROM pg_prepared_statements"
                " WHERE statement LIKE 'INSERT INTO array_insert_items%'"
            )
        )
        count = await session.scalar(text("SELECT count(*) FROM array_insert_items"))
        await session.commit()
    assert count == 65
    assert prepared == 1
