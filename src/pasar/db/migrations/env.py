"""Alembic environment. Pasar passes a live connection in ``config.attributes``;
run from the ``alembic`` CLI it builds one from ``PASAR_DATABASE_URL``."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from pasar.db.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_standalone() -> None:
    from pasar.db.engine import Database
    from pasar.settings import Settings

    db = Database(Settings().resolved_database_url)
    async with db.engine.begin() as conn:
        await conn.run_sync(_run)
    await db.dispose()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    asyncio.run(_run_standalone())
