"""Vendors (tenants), their staff, studio sessions and API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from pasar.db.base import Base, TenantMixin, Timestamps, UTCDateTime, parent_id


class Vendor(Timestamps, Base):
    __tablename__ = "vendors"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    default_locale: Mapped[str] = mapped_column(String(20), nullable=False)
    default_currency: Mapped[str] = mapped_column(String(3), nullable=False)
    allowed_origins: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    # Signs shopper tokens the vendor vouches for (realtime issue); kept encrypted.
    shopper_secret_encrypted: Mapped[str] = mapped_column(String(400), nullable=False)
    # Where shoppers go to pay (commerce/checkout.py explains the placeholders).
    checkout_url_template: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    # Branding the player shows (issue 11): an accent colour (#rrggbb) and a logo
    # the vendor hosts. Both optional; the player falls back to its own.
    brand_color: Mapped[str | None] = mapped_column(String(7), nullable=True)
    logo_url: Mapped[str | None] = mapped_column(String(2000), nullable=True)


class StaffUser(TenantMixin, Timestamps, Base):
    __tablename__ = "staff_users"
    # An email is unique within a vendor only: were it unique across the service,
    # adding staff would tell one vendor which addresses another uses, and let it
    # take an address before the vendor its owner works for (issue 10, item 13).
    # Sign-in finds the account by email and password (service.login).
    __table_args__ = (UniqueConstraint("vendor_id", "email"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), index=True, nullable=False)
    display_name: Mapped[str] = mapped_column(String(120), nullable=False)
    password_hash: Mapped[str] = mapped_column(String(200), nullable=False)
    role: Mapped[str] = mapped_column(String(20), nullable=False)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class StaffSession(TenantMixin, Base):
    __tablename__ = "staff_sessions"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    csrf_token: Mapped[str] = mapped_column(String(64), nullable=False)
    user_id: Mapped[str] = parent_id("staff_users.id", index=True, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    user_agent: Mapped[str] = mapped_column(String(300), nullable=False, default="")


class ApiKey(TenantMixin, Base):
    __tablename__ = "api_keys"
    __table_args__ = (UniqueConstraint("key_hash"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(120), nullable=False)
    # The first characters of the key, shown in lists so people can tell keys apart.
    prefix: Mapped[str] = mapped_column(String(24), nullable=False)
    key_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    scopes: Mapped[list[str]] = mapped_column(JSON, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_by: Mapped[str | None] = mapped_column(String(40), nullable=True)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "prefix": self.prefix,
            "scopes": list(self.scopes),
        }
