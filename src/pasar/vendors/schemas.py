"""The vendors domain's public shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from pasar.url_templates import check_checkout_template
from pasar.validation import Strict
from pasar.vendors.scopes import Role, Scope

BrandColor = Annotated[
    str,
    Field(
        pattern=r"^(#[0-9A-Fa-f]{6})?$",
        description="The player's accent colour as #rrggbb. An empty string removes it.",
    ),
]
LogoUrl = Annotated[
    str,
    Field(
        pattern=r"^(https?://[^\s\"'<>]+)?$",
        max_length=2000,
        description="Your logo (an https:// image you host; square, 128 px or more). "
        "An empty string removes it.",
    ),
]
Origin = Annotated[str, Field(pattern=r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?$", max_length=300)]


class VendorOut(BaseModel):
    id: str
    slug: str
    name: str
    default_locale: str
    default_currency: str
    allowed_origins: list[str]
    checkout_url_template: str | None
    brand_color: str | None
    logo_url: str | None
    created_at: datetime


class VendorPatch(Strict):
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    default_locale: Annotated[str, Field(min_length=2, max_length=20)] | None = None
    default_currency: Annotated[str, Field(min_length=3, max_length=3)] | None = None
    allowed_origins: Annotated[list[Origin], Field(max_length=50)] | None = Field(
        default=None, description="Pages allowed to embed the player, e.g. https://toko.example"
    )
    checkout_url_template: Annotated[str, Field(max_length=2000)] | None = Field(
        default=None,
        description=(
            "Your checkout URL with placeholders Pasar fills in: {lines} (SKU:qty,…), "
            "{reservation_ids}, {variant_ids}, {show_id}, {cart_token} (a hosted cart, read "
            "with GET /api/v1/carts/{cart_token}). e.g. "
            "https://toko.example/cart/add?items={lines}&pasar={reservation_ids}. "
            "An empty string removes it."
        ),
    )

    brand_color: BrandColor | None = None
    logo_url: LogoUrl | None = None

    @field_validator("checkout_url_template")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        return check_checkout_template(value) if value else value


class StaffOut(BaseModel):
    id: str
    email: str
    display_name: str
    role: Role
    created_at: datetime
    disabled_at: datetime | None = Field(
        description="Set while the user is disabled: they cannot sign in."
    )


class StaffIn(Strict):
    email: EmailStr
    display_name: Annotated[str, Field(min_length=1, max_length=120)]
    password: Annotated[str, Field(min_length=10, max_length=200)]
    role: Role


Password = Annotated[str, Field(min_length=10, max_length=200)]


class PasswordResetIn(Strict):
    password: Password = Field(description="The user's new password (10+ characters).")


class PasswordChangeIn(Strict):
    current_password: Annotated[str, Field(min_length=1, max_length=200)]
    new_password: Password


class ApiKeyIn(Strict):
    name: Annotated[str, Field(min_length=1, max_length=120)]
    scopes: Annotated[list[Scope], Field(min_length=1, max_length=20)]

    model_config = ConfigDict(
        json_schema_extra={"example": {"name": "Shopify sync", "scopes": ["catalog:write"]}}
    )


class ApiKeyOut(BaseModel):
    id: str
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class NewApiKeyOut(ApiKeyOut):
    key: str = Field(description="The secret. Shown once: store it now.")


class LoginIn(Strict):
    email: Annotated[str, Field(min_length=3, max_length=320)]
    password: Annotated[str, Field(min_length=1, max_length=200)]
    vendor: Annotated[str, Field(min_length=1, max_length=64)] | None = Field(
        default=None,
        description=(
            "The shop's slug. Needed only when the same email and password sign in to "
            "several shops (the answer is then 409 `choose_vendor`, listing them)."
        ),
    )


class SessionOut(BaseModel):
    user: StaffOut
    vendor: VendorOut
    csrf_token: str = Field(description="Send as X-CSRF-Token on every non-GET studio request.")
    scopes: list[str]
