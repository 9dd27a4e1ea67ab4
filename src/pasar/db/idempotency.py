"""The table behind ``Idempotency-Key``: one remembered answer per vendor and key.

Only the table lives here, with no web knowledge, so that the database layer lists
it without importing the web; the request handling is ``pasar.web.idempotency``'s.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from pasar.db.base import Base, UTCDateTime


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_keys"

    vendor_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64), nullable=False)
    status_code: Mapped[int] = mapped_column(Integer, nullable=False)
    body: Mapped[Any] = mapped_column(JSON, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
