"""pasar.money: exact parsing into minor units, ISO 4217 exponents, display."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pasar.money import (
    MAX_MINOR,
    MoneyError,
    exponent,
    format_money,
    to_decimal,
    to_minor,
    validate_currency,
    validate_locale,
)

# No deadline: a slow or busy machine must not fail a correct property.
no_deadline = settings(deadline=None)

CURRENCIES = ["IDR", "VND", "KWD", "JPY", "PHP", "THB", "MYR", "SGD", "USD", "BHD", "CLF"]


def rejected(amount: str, currency: str = "IDR") -> MoneyError:
    with pytest.raises(MoneyError) as info:
        to_minor(amount, currency)
    assert info.value.kind == "invalid"
    assert info.value.code == "invalid_amount"
    return info.value


# --------------------------------------------------------------------------- exponents


@pytest.mark.parametrize(
    ("currency", "exp"),
    [
        ("IDR", 2),
        ("VND", 0),
        ("JPY", 0),
        ("KRW", 0),
        ("KWD", 3),
        ("BHD", 3),
        ("PHP", 2),
        ("THB", 2),
        ("MYR", 2),
        ("SGD", 2),
        ("CLF", 4),
        ("idr", 2),
        ("vnd", 0),
    ],
)
def test_exponents_follow_iso_4217(currency: str, exp: int) -> None:
    assert exponent(currency) == exp


# --------------------------------------------------------------------------- to_minor


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        ("389000", "IDR", 38_900_000),
        ("389000.00", "IDR", 38_900_000),
        ("149000.5", "IDR", 14_900_050),
        ("0.01", "IDR", 1),
        ("100000", "VND", 100_000),
        ("100000.000", "VND", 100_000),
        ("1.234", "KWD", 1234),
        ("0.001", "KWD", 1),
        ("19.99", "SGD", 1999),
        ("  12.50\n", "PHP", 1250),
        ("1e2", "IDR", 10_000),
        ("1.5E+1", "JPY", 15),
        ("0", "IDR", 0),
        ("-0", "IDR", 0),
        ("0.000000", "VND", 0),
        (Decimal("42.42"), "MYR", 4242),
        ("100000000000000", "IDR", MAX_MINOR),
        ("10000000000000000", "VND", MAX_MINOR),
    ],
)
def test_to_minor_is_exact(amount: str | Decimal, currency: str, minor: int) -> None:
    assert to_minor(amount, currency) == minor
    assert type(to_minor(amount, currency)) is int


@pytest.mark.parametrize(
    ("amount", "currency"),
    [
        ("389000.001", "IDR"),
        ("0.5", "VND"),
        ("1.1", "JPY"),
        ("1.2345", "KWD"),
        ("0.00001", "CLF"),
        # More digits than Decimal's default 28-digit context: must not be rounded away.
        ("1.0000000000000000000000000001", "JPY"),
        ("1.00000000000000000000000000001", "IDR"),
        ("10000000000000.000000000000001", "IDR"),
        ("1E-999999999", "IDR"),
        ("-0.001", "IDR"),
    ],
)
def test_decimals_beyond_the_exponent_are_rejected(amount: str, currency: str) -> None:
    error = rejected(amount, currency)
    assert "more decimals" in error.message
    assert currency in error.message


@pytest.mark.parametrize(
    "amount",
    ["-1", "-0.01", "100000000000000.01", "100000000000001", "1E+20", "1E+999999999", "9" * 400],
)
def test_out_of_range_is_rejected(amount: str) -> None:
    assert "out of range" in rejected(amount, "IDR").message


@pytest.mark.parametrize(
    "amount", ["", "abc", "1,000", "Rp 10", "NaN", "sNaN", "Infinity", "-inf", "1.2.3", "0x10"]
)
def test_non_numbers_are_rejected(amount: str) -> None:
    assert "not a number" in rejected(amount, "IDR").message


# --------------------------------------------------------------------------- properties


@no_deadline
@given(st.sampled_from(CURRENCIES), st.integers(min_value=0, max_value=MAX_MINOR))
def test_round_trip_through_decimal(currency: str, minor: int) -> None:
    amount = to_decimal(minor, currency)
    assert to_minor(amount, currency) == minor
    assert to_minor(str(amount), currency) == minor
    assert to_minor(f"{amount:f}", currency) == minor
    # The decimal has exactly the currency's places.
    assert amount * (10 ** exponent(currency)) == minor


@no_deadline
@given(
    st.sampled_from(CURRENCIES),
    st.integers(min_value=0, max_value=MAX_MINOR),
    st.integers(min_value=0, max_value=30),
)
def test_trailing_zeros_do_not_matter(currency: str, minor: int, zeros: int) -> None:
    text = f"{to_decimal(minor, currency):f}"
    if "." not in text and zeros:
        text += "."
    assert to_minor(text + "0" * zeros, currency) == minor


@no_deadline
@given(
    st.sampled_from(CURRENCIES),
    st.integers(min_value=0, max_value=MAX_MINOR - 1),
    st.integers(min_value=1, max_value=40),
    st.integers(min_value=1, max_value=9),
)
def test_any_extra_significant_decimal_is_rejected(
    currency: str, minor: int, extra_places: int, digit: int
) -> None:
    exact = f"{to_decimal(minor, currency):f}"
    whole, _, fraction = exact.partition(".")
    amount = f"{whole}.{fraction.ljust(exponent(currency), '0')}{'0' * (extra_places - 1)}{digit}"
    assert len(amount.split(".")[1]) == exponent(currency) + extra_places
    assert amount.startswith(exact)
    with pytest.raises(MoneyError):
        to_minor(amount, currency)


@no_deadline
@given(st.sampled_from(CURRENCIES), st.integers(min_value=MAX_MINOR + 1, max_value=10**30))
def test_anything_above_the_maximum_is_rejected(currency: str, minor: int) -> None:
    with pytest.raises(MoneyError):
        to_minor(to_decimal(minor, currency), currency)


@no_deadline
@given(st.sampled_from(CURRENCIES), st.integers(min_value=1, max_value=MAX_MINOR))
def test_negative_amounts_are_rejected(currency: str, minor: int) -> None:
    with pytest.raises(MoneyError):
        to_minor(-to_decimal(minor, currency), currency)


@no_deadline
@given(st.text(max_size=40))
def test_arbitrary_text_is_a_number_or_a_money_error(text: str) -> None:
    try:
        minor = to_minor(text, "IDR")
    except MoneyError:
        return
    assert 0 <= minor <= MAX_MINOR
    assert to_decimal(minor, "IDR") == Decimal(text.strip())


# --------------------------------------------------------------------------- display


@pytest.mark.parametrize(
    ("minor", "currency", "locale", "shown"),
    [
        (38_900_000, "IDR", "id_ID", "Rp389.000"),
        # CLDR shows IDR without decimals; a price with sen must not be rounded.
        (38_900_050, "IDR", "id_ID", "Rp389.000,50"),
        (38_900_099, "IDR", "id_ID", "Rp389.000,99"),
        (1, "IDR", "id_ID", "Rp0,01"),
        (100_000, "VND", "vi_VN", "100.000\xa0₫"),
        (100_000, "VND", "en", "₫100,000"),
        (1234, "KWD", "en", "KWD1.234"),
        (1999, "SGD", "en_SG", "$19.99"),
        (149_900, "PHP", "fil_PH", "₱1,499.00"),
        (0, "USD", "en_US", "$0.00"),
        (5, "USD", "en_US", "$0.05"),
    ],
)
def test_format_money(minor: int, currency: str, locale: str, shown: str) -> None:
    assert format_money(minor, currency, locale) == shown


def test_to_decimal_uses_the_exponent() -> None:
    assert to_decimal(38_900_000, "IDR") == Decimal("389000.00")
    assert to_decimal(100_000, "VND") == Decimal("100000")
    assert to_decimal(1234, "KWD") == Decimal("1.234")
    assert str(to_decimal(1234, "KWD")) == "1.234"


# --------------------------------------------------------------------------- codes


@pytest.mark.parametrize(("given_code", "code"), [("idr", "IDR"), (" VND ", "VND"), ("Php", "PHP")])
def test_validate_currency_normalises(given_code: str, code: str) -> None:
    assert validate_currency(given_code) == code


@pytest.mark.parametrize("code", ["ZZZ", "RP", "", "IDRX", "12$"])
def test_validate_currency_rejects_unknown(code: str) -> None:
    with pytest.raises(MoneyError) as info:
        validate_currency(code)
    assert info.value.code == "invalid_currency"


@pytest.mark.parametrize(
    ("tag", "normal"), [("id_ID", "id_ID"), ("en-US", "en_US"), ("vi", "vi"), ("th_TH", "th_TH")]
)
def test_validate_locale(tag: str, normal: str) -> None:
    assert validate_locale(tag) == normal


@pytest.mark.parametrize("tag", ["xx_YY", "klingon", "", "../../etc/passwd", "en_US\x00"])
def test_validate_locale_rejects_unknown(tag: str) -> None:
    with pytest.raises(MoneyError) as info:
        validate_locale(tag)
    assert info.value.code == "invalid_locale"
