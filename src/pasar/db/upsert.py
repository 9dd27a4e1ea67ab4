"""``INSERT … ON CONFLICT`` on whichever database a session talks to."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def upsert(db: AsyncSession, table: Any) -> Any:
    """An INSERT of the session's dialect, which has ``on_conflict_do_…``."""
    return (postgresql if on_postgres(db) else sqlite).insert(table)


def on_postgres(db: AsyncSession) -> bool:
    """Whether the session talks to PostgreSQL (else SQLite)."""
    return db.get_bind().dialect.name == "postgresql"
