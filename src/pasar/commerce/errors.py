"""Anything wrong with pins, deals, claims, reservations, carts or coupons."""

from typing import Literal

from pasar.errors import DomainError

# fmt: off
CommerceCode = Literal[
    "not_found", "stock_unavailable",
    "not_in_lineup", "product_not_active", "too_many_pins", "pin_not_in_show", "unknown_pin",
    "invalid_window", "price_not_discounted", "duplicate_variant", "unknown_variants", "deal_ended",
    "sold_out", "limit_reached", "not_started", "ended", "not_allowed", "over_limit",
    "variant_required", "unknown_variant", "idempotency_key_required", "not_waiting",
    "shopper_required", "bad_shopper_token", "guest_token_expired", "origin_not_allowed",
    "too_many_guests", "too_many_claims",
    "reservation_held", "reservation_confirmed", "reservation_expired", "reservation_released",
    "reservation_settled", "reservation_in_other_order", "already_confirmed",
    "cart_empty", "cart_invalid", "cart_token_expired", "no_checkout", "purchased",
    "variant_mismatch", "quantity_mismatch", "duplicate_reservation", "unavailable",
    "out_of_stock", "currency_mismatch", "sku_mismatch", "invalid_amount", "invalid_click",
    "order_exists", "show_over",
    "code_taken", "coupon_not_found", "coupon_wrong_show", "coupon_inactive", "coupon_not_started",
    "coupon_ended", "coupon_exhausted", "coupon_limit_reached", "already_redeemed",
]
# fmt: on


class CommerceError(DomainError[CommerceCode]):
    """Anything wrong with pins, deals, claims, reservations, carts or coupons."""


# A reservation met in a state the action cannot take: ``reservation_<status>``.
_IN_STATE: dict[str, CommerceCode] = {
    "held": "reservation_held",
    "confirmed": "reservation_confirmed",
    "expired": "reservation_expired",
    "released": "reservation_released",
}


def reservation_state(status: str) -> CommerceCode:
    return _IN_STATE[status]


def same_currency(given: str, expected: str, priced: str) -> str:
    """``given`` in capitals when it is ``expected``; else 400 ``currency_mismatch``
    ("<priced> EUR, not IDR")."""
    currency = given.upper()
    if currency != expected:
        raise CommerceError("invalid", "currency_mismatch", f"{priced} {expected}, not {currency}")
    return currency
