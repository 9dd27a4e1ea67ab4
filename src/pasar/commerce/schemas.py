"""Commerce's public shapes: what the API takes and gives back."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, NotRequired

from pydantic import BaseModel, ConfigDict, Field, model_validator
from typing_extensions import TypedDict

from pasar.catalog.schemas import Minor
from pasar.commerce.models import MAX_UNITS
from pasar.money import MAX_MINOR, MoneyError, validate_currency
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
    guest_hold_seconds: Annotated[int, Field(ge=30, le=86_400)] | None = Field(
        default=None,
        description="How long a guest's claim holds its units (default: `hold_seconds`). "
        "Shorter than `hold_seconds` makes units a bot took with throwaway guests come "
        "back sooner; shoppers your site vouches for keep the full hold.",
    )

    @model_validator(mode="after")
    def _one_start(self) -> DealIn:
        if self.starts_at is not None and self.starts_in_seconds is not None:
            raise ValueError("give starts_at or starts_in_seconds, not both")
        if self.per_shopper_limit > self.quantity:
            raise ValueError("per_shopper_limit cannot exceed quantity")
        return self


DealStatus = Literal["upcoming", "live", "ended"]


# A TypedDict, not a model: commerce.deals.out builds it as a plain dict (typed)
# for the API and the webhooks alike.
class DealOut(TypedDict):
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
    guest_hold_seconds: int
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


# A TypedDict, like DealOut: commerce.reservations.row_out builds it.
class ReservationOut(TypedDict):
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
    checkout_url: NotRequired[
        Annotated[
            str | None,
            Field(description="The vendor's checkout with this reservation, when set up."),
        ]
    ]


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
    expires_at: datetime = Field(
        description="When the token stops working; renew before with POST /storefront/guests."
    )


# -- shared by orders, coupons and carts ---------------------------------------

Currency = Annotated[str, Field(min_length=3, max_length=3, description="ISO 4217 code, e.g. IDR.")]
# Minor units, and a JSON number only: "100" is refused rather than read as 100.
Amount = Annotated[Minor, Field(strict=True)]
OrderRef = Annotated[
    str, Field(min_length=1, max_length=100, description="Your order's reference.")
]
ShopperRef = Annotated[
    str,
    Field(
        min_length=1,
        max_length=80,
        description="The shopper as Pasar names them: 'shopper:<sub of your token>' or 'guest:…'.",
    ),
]
ClickToken = Annotated[
    str,
    Field(
        min_length=1,
        max_length=1000,
        description="A `click_token` from POST /storefront/shows/{show_id}/clicks.",
    ),
]


def iso_currency(value: str) -> str:
    """Upper-cased; ValueError (a 422) for a code that is not ISO 4217."""
    try:
        return validate_currency(value)
    except MoneyError as exc:
        raise ValueError(exc.message) from None


# -- clicks (attribution without cookies) ---------------------------------------


class ClickIn(Strict):
    product_id: Id
    variant_id: Id | None = None


class ClickOut(BaseModel):
    click_token: str = Field(
        description="Give it to the shop with the add-to-cart or checkout; the shop sends it "
        "back as `pasar_click` when it reports the order."
    )
    show_id: str
    product_id: str
    variant_id: str | None
    pin_id: str | None = Field(description="The pin on screen when the shopper tapped.")
    shopper_id: str | None
    clicked_at: datetime
    expires_at: datetime


# -- orders ------------------------------------------------------------------------


class OrderLineIn(Strict):
    variant_id: Id | None = Field(default=None, description="A Pasar variant id, or give `sku`.")
    sku: Annotated[str, Field(min_length=1, max_length=100)] | None = Field(
        default=None, description="Your SKU (lines for SKUs Pasar does not know are kept too)."
    )
    title: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    quantity: Units
    unit_price: Amount = Field(description="Minor units of the order's currency.")
    amount: Amount | None = Field(
        default=None,
        description="What the shopper paid for the line after discounts; default "
        "quantity × unit_price.",
    )
    pasar_click: ClickToken | None = Field(
        default=None, description="The click that led to this line (else the order's)."
    )

    @model_validator(mode="after")
    def _sane(self) -> OrderLineIn:
        if self.variant_id is None and self.sku is None:
            raise ValueError("give variant_id or sku")
        if self.quantity * self.unit_price > MAX_MINOR:
            raise ValueError("quantity × unit_price is out of range")
        return self


class OrderIn(Strict):
    order_ref: OrderRef
    amount: Amount = Field(description="The order's total, in minor units of `currency`.")
    currency: Currency
    placed_at: IsoDateTime | None = Field(default=None, description="Omitted: now.")
    lines: Annotated[list[OrderLineIn], Field(max_length=200)] = Field(default_factory=list)
    show_id: Id | None = Field(
        default=None, description="The show the order came from, when no click or reservation says."
    )
    pin_id: Id | None = Field(default=None, description="The pin the shopper bought from.")
    reservation_ids: Annotated[list[Id], Field(max_length=50)] = Field(
        default_factory=list,
        description="Reservations in the order (held or confirmed): matched to lines by "
        "variant, or added as lines. Reporting does not confirm them.",
    )
    shopper_id: ShopperRef | None = None
    pasar_click: ClickToken | None = Field(
        default=None, description="The click token the embed gave your page (attribution)."
    )

    @model_validator(mode="after")
    def _sane(self) -> OrderIn:
        self.currency = iso_currency(self.currency)
        if not self.lines and not self.reservation_ids:
            raise ValueError("an order needs lines or reservation_ids")
        if len(set(self.reservation_ids)) != len(self.reservation_ids):
            raise ValueError("a reservation appears twice")
        return self


Attribution = Literal["reservation", "click", "show"]


class OrderLineOut(BaseModel):
    id: str
    variant_id: str | None
    product_id: str | None
    sku: str | None
    title: str | None
    quantity: int
    unit_price: int
    amount: int
    currency: str
    attributed_by: Attribution | None = Field(
        description="How the line was tied to a show: its reservation, a click token, or "
        "the order's show_id. null: not attributed."
    )
    show_id: str | None
    pin_id: str | None = Field(description="The pin on screen when the shopper acted.")
    deal_id: str | None
    reservation_id: str | None
    acted_at: datetime | None = Field(description="When the shopper tapped or claimed.")


class OrderOut(BaseModel):
    id: str
    order_ref: str
    amount: int
    currency: str
    placed_at: datetime
    show_id: str | None
    shopper_id: str | None
    source: Literal["api", "checkout"]
    reported: bool = Field(
        description="False while the order is known only from confirmed reservations."
    )
    lines: list[OrderLineOut]
    created_at: datetime
    updated_at: datetime


class OrderPage(BaseModel):
    data: list[OrderOut]
    next_cursor: str | None


class SalesTotal(BaseModel):
    currency: str
    revenue: int = Field(description="Sum of line amounts, minor units.")
    units: int
    orders: int


class ProductSales(SalesTotal):
    product_id: str | None = Field(description="null: lines for SKUs Pasar does not know.")


class PinSales(SalesTotal):
    pin_id: str
    product_id: str | None
    pinned_at: datetime | None


class DealSales(SalesTotal):
    deal_id: str


class SalesOut(BaseModel):
    """A show's attributed sales, summed per currency (never across currencies)."""

    show_id: str
    totals: list[SalesTotal]
    by_product: list[ProductSales]
    by_pin: list[PinSales]
    by_deal: list[DealSales]


# -- coupons -----------------------------------------------------------------------

CouponCode = Annotated[
    str,
    Field(
        min_length=3,
        max_length=40,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$",
        description="Letters, digits, - and _; matched without regard to case.",
    ),
]
CouponKind = Literal["percent", "fixed"]
Limit = Annotated[int, Field(ge=1, le=1_000_000_000)]


class CouponIn(Strict):
    code: CouponCode
    description: Annotated[str, Field(max_length=200)] = ""
    kind: CouponKind
    value: Annotated[int, Field(ge=1, strict=True)] = Field(
        description="percent: 1–100; fixed: minor units of `currency`."
    )
    currency: Currency | None = Field(default=None, description="Required for fixed coupons.")
    show_id: Id | None = Field(default=None, description="Only for orders from this show.")
    usage_limit: Limit | None = Field(default=None, description="Redemptions in total.")
    per_shopper_limit: Limit | None = None
    starts_at: IsoDateTime | None = None
    ends_at: IsoDateTime | None = None
    active: bool = True

    @model_validator(mode="after")
    def _sane(self) -> CouponIn:
        self.code = self.code.upper()
        if self.kind == "percent":
            if self.value > 100:
                raise ValueError("a percentage is 1–100")
            if self.currency is not None:
                raise ValueError("a percentage coupon has no currency")
        else:
            if self.currency is None:
                raise ValueError("a fixed coupon needs a currency")
            if self.value > MAX_MINOR:
                raise ValueError("value is out of range")
            self.currency = iso_currency(self.currency)
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class CouponPatch(Strict):
    description: Annotated[str, Field(max_length=200)] | None = None
    usage_limit: Limit | None = None
    per_shopper_limit: Limit | None = None
    starts_at: IsoDateTime | None = None
    ends_at: IsoDateTime | None = None
    active: bool | None = None


class CouponOut(BaseModel):
    id: str
    code: str
    description: str
    kind: CouponKind
    value: int
    currency: str | None
    show_id: str | None
    usage_limit: int | None
    per_shopper_limit: int | None
    used: int
    starts_at: datetime | None
    ends_at: datetime | None
    active: bool
    created_at: datetime
    updated_at: datetime


class CouponPage(BaseModel):
    data: list[CouponOut]
    next_cursor: str | None


class CouponPostOut(BaseModel):
    id: str
    coupon_id: str
    show_id: str
    posted_at: datetime
    coupon: CouponOut


class PostedCouponOut(BaseModel):
    """A coupon posted in a show, as shoppers see it (copy the code with one tap)."""

    coupon_id: str
    code: str
    description: str
    kind: CouponKind
    value: int
    currency: str | None
    ends_at: datetime | None
    posted_at: datetime


class RedeemIn(Strict):
    code: Annotated[str, Field(min_length=1, max_length=40)]
    order_ref: OrderRef
    amount: Amount = Field(description="The order amount the coupon applies to.")
    currency: Currency
    shopper_id: ShopperRef | None = Field(
        default=None, description="Needed when the coupon has a per-shopper limit."
    )
    show_id: Id | None = Field(default=None, description="Needed for a coupon of one show.")

    @model_validator(mode="after")
    def _sane(self) -> RedeemIn:
        self.currency = iso_currency(self.currency)
        return self


class ValidateIn(Strict):
    code: Annotated[str, Field(min_length=1, max_length=40)]
    amount: Amount
    currency: Currency
    shopper_id: ShopperRef | None = None
    show_id: Id | None = None

    @model_validator(mode="after")
    def _sane(self) -> ValidateIn:
        self.currency = iso_currency(self.currency)
        return self


class DiscountOut(BaseModel):
    coupon_id: str
    code: str
    kind: CouponKind
    value: int
    amount: int
    discount: int = Field(description="Minor units off `amount` (percentages round down).")
    amount_after: int
    currency: str


class RedemptionOut(DiscountOut):
    id: str
    order_ref: str
    shopper_id: str | None
    show_id: str | None
    redeemed_at: datetime


# -- the embed's cart events (the player ⇄ the vendor's page) -------------------------
#
# The player fires DOM events on <pasar-live>; the vendor's page answers each with an
# EmbedAnswer and may push its cart back with CartState. docs/embed-events.md is
# generated from these models (`pasar contract --write`).


class EmbedItem(BaseModel):
    """A product the shopper chose in the player."""

    model_config = ConfigDict(extra="allow")

    show_id: str
    product_id: str
    variant_id: str
    sku: str | None = Field(description="Your SKU (null when the variant has none).")
    quantity: int = Field(ge=1)
    price: int = Field(
        description="Unit price in minor units of `currency` (the deal's, for a deal)."
    )
    currency: str
    reservation_id: str | None = Field(
        default=None,
        description="Set when the item comes from a flash-deal claim: the units are held "
        "for the shopper; confirm the reservation when the order is placed.",
    )
    deal_id: str | None = None
    reservation_expires_at: datetime | None = None
    pin_id: str | None = Field(default=None, description="The pin on screen when tapped.")
    click_token: str | None = Field(
        default=None, description="Send it back as `pasar_click` when you report the order."
    )
    product_url: str | None = None


class AddToCartEvent(EmbedItem):
    """`add-to-cart`: the shopper tapped "add to cart" (or claimed a deal) in the player."""

    type: Literal["add-to-cart"] = "add-to-cart"


class UpdateCartEvent(BaseModel):
    """`update-cart`: the shopper changed a line's quantity in the player's cart view
    (0 removes the line)."""

    model_config = ConfigDict(extra="allow")

    type: Literal["update-cart"] = "update-cart"
    show_id: str
    variant_id: str
    sku: str | None
    quantity: int = Field(ge=0)
    reservation_id: str | None = None


class CheckoutEvent(BaseModel):
    """`checkout`: the shopper tapped "checkout" in the player; take them to your checkout
    (the player does not navigate by itself)."""

    model_config = ConfigDict(extra="allow")

    type: Literal["checkout"] = "checkout"
    show_id: str
    reservation_ids: list[str] = Field(description="Deal reservations to confirm with the order.")
    click_token: str | None = Field(
        default=None, description="The shopper's latest click in the show (attribution)."
    )


class EmbedOk(BaseModel):
    """Your page's answer: done."""

    ok: Literal[True]


class EmbedRefusal(BaseModel):
    """Your page's answer: not done, and why (the player shows `message`)."""

    ok: Literal[False]
    reason: Literal["out_of_stock", "unavailable", "limit"] | str = Field(
        description="'out_of_stock', 'unavailable', 'limit', or your own code."
    )
    message: str = Field(description="Shown to the shopper as is (plain text).")


class CartStateLine(BaseModel):
    model_config = ConfigDict(extra="allow")

    variant_id: str | None = None
    sku: str | None = None
    product_id: str | None = None
    title: str
    quantity: int = Field(ge=0)
    unit_price: int = Field(description="Minor units of `currency`.")
    line_total: int
    image_url: str | None = None
    reservation_id: str | None = None


class CartState(BaseModel):
    """Your page → the player (`player.syncCart(state)`): the real cart, so the player
    shows what the shopper will pay. Also the shape of Pasar's hosted cart."""

    model_config = ConfigDict(extra="allow")

    lines: list[CartStateLine]
    subtotal: int = Field(description="Minor units of `currency`.")
    currency: str | None = Field(description="null for an empty cart.")
    item_count: int
    checkout_url: str | None = None


EMBED_EVENTS: dict[str, tuple[type[BaseModel], str]] = {
    "add-to-cart": (AddToCartEvent, "player → page"),
    "update-cart": (UpdateCartEvent, "player → page"),
    "checkout": (CheckoutEvent, "player → page"),
    "answer (ok)": (EmbedOk, "page → player"),
    "answer (refused)": (EmbedRefusal, "page → player"),
    "cart state": (CartState, "page → player"),
}


# -- Pasar's hosted cart ---------------------------------------------------------------

CartQuantity = Annotated[int, Field(ge=1, le=999)]


class HostedCartLineIn(Strict):
    variant_id: Id | None = Field(default=None, description="Needed unless `reservation_id`.")
    quantity: CartQuantity | None = Field(
        default=None, description="Needed unless `reservation_id` (then the reservation's)."
    )
    reservation_id: Id | None = Field(
        default=None, description="A deal line: your own held reservation."
    )
    pasar_click: ClickToken | None = None

    @model_validator(mode="after")
    def _sane(self) -> HostedCartLineIn:
        if self.reservation_id is None and (self.variant_id is None or self.quantity is None):
            raise ValueError("give variant_id and quantity, or reservation_id")
        return self


class HostedCartIn(Strict):
    lines: Annotated[list[HostedCartLineIn], Field(max_length=100)]
    show_id: Id | None = Field(default=None, description="The show the shopper is watching.")


LineProblem = Literal[
    "out_of_stock", "unavailable", "reservation_expired", "reservation_released", "purchased"
]


class HostedCartLine(CartStateLine):
    variant_id: str | None
    sku: str | None
    product_id: str | None
    variant_title: str
    currency: str
    reservation_id: str | None
    reservation_expires_at: datetime | None = None
    deal_id: str | None = None
    show_id: str | None = None
    pin_id: str | None = None
    pasar_click: str | None = None
    problem: LineProblem | None = Field(
        default=None, description="Why the line cannot be checked out now."
    )


class HostedCartOut(CartState):
    id: str | None = Field(description="null until the shopper puts something in.")
    vendor_id: str
    shopper_id: str
    show_id: str | None
    lines: list[HostedCartLine]  # type: ignore[assignment]
    updated_at: datetime | None


class CheckoutOut(BaseModel):
    checkout_id: str
    checkout_url: str
    cart_token: str = Field(description="What `{cart_token}` in your template is filled with.")
    expires_at: datetime


class CartCheckoutLine(BaseModel):
    variant_id: str
    product_id: str
    sku: str | None
    title: str
    quantity: int
    unit_price: int
    line_total: int
    reservation_id: str | None
    deal_id: str | None
    show_id: str | None
    pin_id: str | None
    pasar_click: str | None


class CartCheckoutOut(BaseModel):
    """A hosted cart as it was handed to your checkout."""

    id: str
    cart_id: str
    shopper_id: str
    show_id: str | None
    lines: list[CartCheckoutLine]
    reservation_ids: list[str]
    subtotal: int
    currency: str
    item_count: int
    created_at: datetime
    expires_at: datetime
