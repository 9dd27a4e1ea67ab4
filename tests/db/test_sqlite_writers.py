"""SQLite: this node's writers queue in-process; readers neither wait nor write."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from pasar.db.engine import Database


@pytest.fixture
async def database(tmp_path: Path) -> Database:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'w.db'}")
    async with db.session() as s:
        await s.execute(text("CREATE TABLE t (n INTEGER)"))
        await s.commit()
    yield db  # type: ignore[misc]
    await db.dispose()


async def test_a_second_writer_waits_in_the_pool_not_in_sqlite(database: Database) -> None:
    async with database.session() as first:
        await first.execute(text("INSERT INTO t VALUES (1)"))

        async def second_writer() -> None:
            async with database.session() as second:
                await second.execute(text("INSERT INTO t VALUES (2)"))
                await second.commit()

        task = asyncio.create_task(second_writer())
        await asyncio.sleep(0.2)
        # The only write connection is the first writer's: the second is queued
        # for it (the pool's waiter), not sleeping in SQLite's busy handler.
        assert not task.done()
        assert database.engine.pool.checkedout() == 1  # type: ignore[attr-defined]
        await first.commit()
    await asyncio.wait_for(task, 10)
    async with database.read() as r:
        assert (await r.execute(text("SELECT n FROM t ORDER BY n"))).scalars().all() == [1, 2]


async def test_a_reader_runs_beside_an_open_write_and_sees_only_commits(
    database: Database,
) -> None:
    async with database.session() as writer:
        await writer.execute(text("INSERT INTO t VALUES (7)"))
        async with database.read() as reader:
            rows = await asyncio.wait_for(reader.execute(text("SELECT count(*) FROM t")), 5)
            assert rows.scalar_one() == 0
        await writer.commit()


async def test_a_reader_cannot_write(database: Database) -> None:
    async with database.read() as reader:
        with pytest.raises(OperationalError, match="readonly"):
            await reader.execute(text("INSERT INTO t VALUES (3)"))
