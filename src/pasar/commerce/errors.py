"""CommerceError: its ``kind`` (mapped to HTTP in one place) and its wire ``code``.

The codes are part of the API (clients branch on them): a ``Literal`` so that a
misspelt or new code is a type error until it is added here on purpose.
"""

from __future__ import annotations

from typing import Any, Literal

from pasar.errors import DomainError, ErrorKind

CommerceCode = Literal[
    "already_confirmed",
    "already_redeemed",
    "bad_shopper_token",
    "cart_empty",
    "cart_invalid",
    "cart_token_expired",
    "code_taken",
    "coupon_ended",
    "coupon_exhausted",
    "coupon_inactive",
    "coupon_limit_reached",
    "coupon_not_found",
    "coupon_not_started",
    "coupon_wrong_show",
    "currency_mismatch",
    "deal_ended",
    "duplicate_reservation",
    "duplicate_variant",
    "ended",
    "guest_token_expired",
    "idempotency_key_required",
    "invalid_amount",
    "invalid_click",
    "invalid_window",
    "limit_reached",
    "no_checkout",
    "not_allowed",
    "not_found",
    "not_in_lineup",
    "not_started",
    "not_waiting",
    "order_exists",
    "origin_not_allowed",
    "out_of_stock",
    "over_limit",
    "pin_not_in_show",
    "price_not_discounted",
    "product_not_active",
    "purchased",
    "quantity_mismatch",
    "reservation_confirmed",
    "reservation_expired",
    "reservation_held",
    "reservation_in_other_order",
    "reservation_released",
    "reservation_settled",
    "shopper_required",
    "show_over",
    "sku_mismatch",
    "sold_out",
    "stock_unavailable",
    "too_many_claims",
    "too_many_guests",
    "too_many_pins",
    "unavailable",
    "unknown_pin",
    "unknown_variant",
    "unknown_variants",
    "variant_mismatch",
    "variant_required",
]


class CommerceError(DomainError):
    """Anything wrong with pins, deals, claims, reservations, carts or coupons."""

    code: CommerceCode

    def __init__(
        self,
        kind: ErrorKind,
        code: CommerceCode,
        message: str,
        details: dict[str, Any] | list[Any] | None = None,
    ) -> None:
        super().__init__(kind, code, message, details)


# A reservation met in a state the action cannot take: ``reservation_<status>``.
_IN_STATE: dict[str, CommerceCode] = {
    "held": "reservation_held",
    "confirmed": "reservation_confirmed",
    "expired": "reservation_expired",
    "released": "reservation_released",
}


def reservation_state(status: str) -> CommerceCode:
    return _IN_STATE[status]
