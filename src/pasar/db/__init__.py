"""Database engine, sessions, the declarative base and migrations."""

from pasar.db.base import Base, TenantMixin, UTCDateTime
from pasar.db.engine import Database

__all__ = ["Base", "Database", "TenantMixin", "UTCDateTime"]
