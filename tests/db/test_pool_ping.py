"""PostgreSQL's pool pings a connection only after it sat idle, and replaces a dead one."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from pasar.db import engine as engine_module
from pasar.db.engine import Database
from tests.conftest import service_missing

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg(postgres_url: str | Exception) -> str:
    if isinstance(postgres_url, Exception):
        service_missing("PostgreSQL", str(postgres_url))
    assert isinstance(postgres_url, str)
    return postgres_url


def _count_pings(db: Database) -> list[int]:
    pings = [0]
    dialect: Any = db.engine.dialect
    real = dialect.do_ping

    def counted(dbapi: Any) -> Any:
        pings[0] += 1
        return real(dbapi)

    dialect.do_ping = counted
    return pings


async def _backend_pid(db: Database) -> int:
    async with db.session() as session:
        return int(await session.scalar(text("SELECT pg_backend_pid()")))


async def test_a_connection_used_a_moment_ago_is_not_pinged(pg: str) -> None:
    db = Database(pg)
    try:
        pings = _count_pings(db)
        first = await _backend_pid(db)
        for _ in range(5):
            assert await _backend_pid(db) == first  # the same hot connection (LIFO)
        assert pings[0] == 0
    finally:
        await db.dispose()


async def test_an_idle_connection_that_died_is_replaced_before_use(
    pg: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = Database(pg)
    other = Database(pg)
    try:
        pings = _count_pings(db)
        dead = await _backend_pid(db)
        async with other.session() as session:  # the server drops it (a restart, a timeout)
            await session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": dead})
        monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_S", 0.0)  # it has been idle
        assert await _backend_pid(db) != dead  # no error: a new connection was made
        assert pings[0] == 1
    finally:
        await db.dispose()
        await other.dispose()
