"""Commerce's public shapes: what the API takes and gives back."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from pasar.catalog.schemas import Minor
from pasar.commerce.models import MAX_UNITS
from pasar.validation import IsoDateTime, Strict

Id = Annotated[str, Field(min_length=1, max_length=40)]
Units = Annotated[int, Field(ge=1, le=MAX_UNITS)]
Refusal = Literal["sold_out", "limit_reached", "not_started", "ended", "not_allowed"]
ReservationStatus = Literal["held", "confirmed", "released", "expired"]


# -- pins --------------------------------------------------------------------


class ProductPinIn(Strict):
    product_id: Id


class PinOut(BaseModel):
    id: str
    show_id: str
    product_id: str
    pinned_at: datetime
    unpinned_at: datetime | None
    media_time: float | None = Field(
        description="Seconds into the replay when the product was pinned (null: not recorded)."
    )


# -- deals -------------------------------------------------------------------


class DealIn(Strict):
    product_id: Id
    variant_ids: Annotated[list[Id], Field(min_length=1, max_length=100)] | None = Field(
        default=None, description="Variants the deal covers; all of the product's when omitted."
    )
    title: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    price: Minor = Field(description="Deal price per unit, in minor units of `currency`.")
    currency: Annotated[str, Field(min_length=3, max_length=3)] = Field(
        description="Must be the product's currency."
    )
    quantity: Units = Field(description="Units on offer, shared by the deal's variants.")
    per_shopper_limit: Units = 1
    signed_in_only: bool = Field(
        default=False, description="Only shoppers your site vouches for may claim."
    )
    starts_at: IsoDateTime | None = Field(default=None, description="Omitted: now.")
    starts_in_seconds: Annotated[int, Field(ge=0, le=86_400)] | None = Field(
        default=None, description="A countdown instead of `starts_at`."
    )
    duration_seconds: Annotated[int, Field(ge=10, le=7 * 86_400)] = 600
    hold_seconds: Annotated[int, Field(ge=30, le=86_400)] | None = Field(
        default=None, description="How long a claim holds its units (default 10 minutes)."
    )

    @model_validator(mode="after")
    def _one_start(self) -> DealIn:
        if self.starts_at is not None and self.starts_in_seconds is not None:
            raise ValueError("give starts_at or starts_in_seconds, not both")
        if self.per_shopper_limit > self.quantity:
            raise ValueError("per_shopper_limit cannot exceed quantity")
        return self


DealStatus = Literal["upcoming", "live", "ended"]


class DealOut(BaseModel):
    id: str
    show_id: str
    product_id: str
    variant_ids: list[str]
    title: str
    price: int
    currency: str
    quantity: int
    units_left: int
    sold: int
    held: int
    per_shopper_limit: int
    signed_in_only: bool
    hold_seconds: int
    starts_at: datetime
    ends_at: datetime
    status: DealStatus
    end_reason: str | None
    created_at: datetime


class DealEndIn(Strict):
    reason: Literal["ended", "cancelled"] = Field(
        default="ended", description="'cancelled' also releases every held unit."
    )


# -- claims and reservations -------------------------------------------------


class ClaimIn(Strict):
    variant_id: Id | None = Field(
        default=None, description="Which of the deal's variants; needed when it has several."
    )
    quantity: Units = 1
    pin_id: Id | None = Field(
        default=None, description="The pin on screen when the shopper tapped (attribution)."
    )


class ReservationOut(BaseModel):
    id: str
    deal_id: str
    show_id: str
    shopper_id: str
    product_id: str
    variant_id: str
    quantity: int
    unit_price: int
    currency: str
    status: ReservationStatus
    pin_id: str | None
    created_at: datetime
    expires_at: datetime
    settled_at: datetime | None
    order_ref: str | None
    checkout_url: str | None = Field(
        default=None, description="The vendor's checkout with this reservation, when set up."
    )


class ConfirmIn(Strict):
    order_ref: Annotated[str, Field(min_length=1, max_length=100)]
    amount: Minor = Field(description="What the shopper paid for these lines, in minor units.")
    currency: Annotated[str, Field(min_length=3, max_length=3)]


class WaitlistIn(Strict):
    variant_id: Id | None = None
    quantity: Units = 1


class WaitlistOut(BaseModel):
    id: str
    deal_id: str
    variant_id: str
    quantity: int
    status: Literal["waiting", "granted", "left", "lapsed"]
    reservation_id: str | None
    position: int | None = Field(description="1 = next in line (while waiting).")
    created_at: datetime


class GuestOut(BaseModel):
    guest_token: str = Field(description="Send it back as the `X-Pasar-Guest` header.")
    id: str
    name: str
