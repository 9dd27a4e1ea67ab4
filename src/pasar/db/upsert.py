"""``INSERT … ON CONFLICT`` on whichever database a session talks to."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def upsert(db: AsyncSession, table: Any) -> Any:
    """An INSERT of the session's dialect, which has ``on_conflict_do_…``."""
    dialect = db.get_bind().dialect.name
    return (postgresql if dialect == "postgresql" else sqlite).insert(table)
