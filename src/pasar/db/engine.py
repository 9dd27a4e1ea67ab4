"""The async engine and session factory the app hangs off ``Services``."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event, exc, make_url, text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # Take transactions away from the driver (its own handling breaks SAVEPOINT)…
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    # WAL lets readers run beside the single writer; foreign keys are off by default.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()
    # SQLite's lower() folds ASCII only; PostgreSQL's folds every script. Searches
    # must find "Émile" from "émile" on both.
    dbapi_conn.create_function("lower", 1, _unicode_lower, deterministic=True)


def _unicode_lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _sqlite_begin(conn: Any) -> None:
    # …and begin them ourselves. IMMEDIATE takes the write lock up front: the
    # writer engine's pool (one connection) has already queued this node's
    # writers in-process, so the lock is only ever contended by another process.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_read_only(dbapi_conn: Any, _record: Any) -> None:
    _sqlite_pragmas(dbapi_conn, _record)
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA query_only=ON")  # a write through a reader fails loudly
    cur.close()


def _sqlite_begin_deferred(conn: Any) -> None:
    # A reader's transaction is a consistent snapshot (WAL) that never takes the
    # write lock, so snapshots and lookups run beside the writer.
    conn.exec_driver_sql("BEGIN")


# How long a writer waits for this node's one SQLite write connection (the
# busy_timeout's role before writers were queued in-process).
SQLITE_WRITER_WAIT_S = 10.0

# A pooled PostgreSQL connection idle this long is pinged before use.
PING_AFTER_IDLE_S = 2.0


def _ping_if_idle(engine: AsyncEngine) -> None:
    """Ping a pooled connection only if it sat idle, not on every checkout.

    ``pool_pre_ping`` cost every transaction two more round trips (asyncpg's
    ping is a BEGIN and a ROLLBACK). On a loop busy fanning out, each round
    trip of a chat batch or a claim batch waits its turn; the ping bought
    nothing for a connection used a moment ago. One idle for a while (the
    database may have restarted since) is still pinged, and a dead one is
    replaced before use. A restart under load fails the transactions already on
    their way, as it did, and SQLAlchemy then invalidates the pool."""
    dialect = engine.dialect
    pool = engine.sync_engine.pool

    def checkin(_dbapi: Any, record: Any) -> None:
        record.info["pasar_idle_since"] = time.monotonic()

    def checkout(dbapi: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("pasar_idle_since")
        if since is None or time.monotonic() - since < PING_AFTER_IDLE_S:
            return  # just connected, or just used
        try:
            dialect.do_ping(dbapi)  # raises on a dead connection
        except Exception as error:
            raise exc.DisconnectionError() from error

    event.listen(pool, "checkin", checkin)
    event.listen(pool, "checkout", checkout)


class Database:
    """``session()`` for work that may write, ``read()`` for work that only reads.

    On SQLite, writers are serialised in-process: the writer engine has one
    connection, so a second writer waits in the pool's queue (FIFO, woken the
    moment the first commits) instead of in SQLite's busy handler, which sleeps
    and retries in growing steps. Readers have their own engine and pool. On
    PostgreSQL both are the same engine."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict[str, Any] = {}
        database = make_url(url).database
        file_backed = self.is_sqlite and bool(database) and database != ":memory:"
        if not self.is_sqlite:
            # LIFO: the hot connections are reused and the rest idle (and are
            # pinged when next taken, see _ping_if_idle).
            kwargs.update(pool_size=10, max_overflow=20, pool_use_lifo=True)
        elif file_backed:
            kwargs.update(pool_size=1, max_overflow=0, pool_timeout=SQLITE_WRITER_WAIT_S)
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        self.reader: AsyncEngine = self.engine
        if not self.is_sqlite:
            _ping_if_idle(self.engine)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
            event.listen(self.engine.sync_engine, "begin", _sqlite_begin)
            if file_backed:
                # A fixed set: a new SQLite connection is a thread and a file open.
                self.reader = create_async_engine(url, pool_size=8, max_overflow=0)
                event.listen(self.reader.sync_engine, "connect", _sqlite_read_only)
                event.listen(self.reader.sync_engine, "begin", _sqlite_begin_deferred)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self.readers = async_sessionmaker(self.reader, expire_on_commit=False)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session:
            yield session

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session that must not write (on SQLite a write raises): it never
        waits for, nor holds up, a writer."""
        async with self.readers() as session:
            yield session

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.reader is not self.engine:
            await self.reader.dispose()
