"""Show tables."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from pasar.db.base import Base, TenantMixin, Timestamps, UTCDateTime, parent_id


class Show(TenantMixin, Timestamps, Base):
    __tablename__ = "shows"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    host_user_id: Mapped[str | None] = mapped_column(
        String(40), ForeignKey("staff_users.id", ondelete="SET NULL"), nullable=True
    )
    state: Mapped[str] = mapped_column(String(16), nullable=False, default="scheduled")
    cover_key: Mapped[str | None] = mapped_column(String(300), nullable=True)
    # The stream key is found by its hash (indexed, unique) and kept sealed with
    # the server secret so owners and hosts can reveal it again in the studio.
    stream_key_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    stream_key_sealed: Mapped[str] = mapped_column(String(400), nullable=False)
    stream_key_rotated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    lineup: Mapped[list[ShowProduct]] = relationship(
        order_by="ShowProduct.position", cascade="all, delete-orphan", lazy="selectin"
    )


class ShowProduct(TenantMixin, Base):
    """One product in a show's ordered line-up."""

    __tablename__ = "show_products"
    __table_args__ = (UniqueConstraint("show_id", "product_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    show_id: Mapped[str] = parent_id("shows.id", index=True, nullable=False)
    product_id: Mapped[str] = parent_id("products.id", index=True, nullable=False)
    position: Mapped[int] = mapped_column(Integer, nullable=False)
