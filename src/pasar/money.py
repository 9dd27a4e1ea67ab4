"""Money is integer minor units plus an ISO 4217 code; Babel formats it.

Minor units per currency follow the ISO 4217 table (IDR 2, VND 0, JPY 0, KWD 3),
as payment providers and the browser's ``Intl`` do, so ``38900000`` IDR is
Rp 389.000. Display follows the locale's habits through Babel (CLDR), which may
show fewer decimals (Indonesians write Rp389.000, not Rp389.000,00).
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.numbers import format_currency, get_currency_precision, list_currencies

from pasar.errors import DomainError

# Largest amount accepted anywhere: ten quadrillion minor units fits a signed
# 64-bit column with room for sums, and is far beyond any real price.
MAX_MINOR = 10**16


class MoneyError(DomainError):
    pass


@lru_cache(maxsize=1)
def _currencies() -> frozenset[str]:
    return frozenset(list_currencies())


def validate_currency(code: str) -> str:
    code = code.strip().upper()
    if code not in _currencies():
        raise MoneyError("invalid", "invalid_currency", f"'{code}' is not an ISO 4217 currency")
    return code


@lru_cache(maxsize=256)
def _locale_ok(tag: str) -> str:
    return str(Locale.parse(tag.replace("-", "_")))


def validate_locale(tag: str) -> str:
    try:
        return _locale_ok(tag)
    except (ValueError, UnknownLocaleError, TypeError) as exc:
        raise MoneyError("invalid", "invalid_locale", f"'{tag}' is not a known locale") from exc


# ISO 4217 currencies whose minor unit is not 1/100 (all others are 2).
_EXPONENTS = {
    **dict.fromkeys(
        "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split(), 0
    ),
    **dict.fromkeys("BHD IQD JOD KWD LYD OMR TND".split(), 3),
    **dict.fromkeys("CLF UYW".split(), 4),
}


def exponent(currency: str) -> int:
    return _EXPONENTS.get(currency.upper(), 2)


def to_decimal(minor: int, currency: str) -> Decimal:
    return Decimal(minor).scaleb(-exponent(currency))


def _quoted(amount: str | Decimal) -> str:
    text = str(amount).strip()
    return f"'{text}'" if len(text) <= 40 else f"'{text[:37]}...'"


def to_minor(amount: str | Decimal, currency: str) -> int:
    """Parse a decimal string such as ``"149000.00"`` into minor units, exactly."""
    try:
        value = Decimal(str(amount).strip())
    except Exception as exc:
        raise MoneyError("invalid", "invalid_amount", f"{_quoted(amount)} is not a number") from exc
    if not value.is_finite():
        raise MoneyError("invalid", "invalid_amount", f"{_quoted(amount)} is not a number")
    # Exact integer arithmetic on the digits: Decimal arithmetic would round to the
    # context's 28 digits (silently accepting "1.00…001"), underflow tiny values to 0
    # and raise Overflow on huge exponents.
    sign, digits, exp = value.as_tuple()
    assert isinstance(exp, int)  # finite
    coefficient = "".join(map(str, digits)).lstrip("0")
    if not coefficient:
        return 0
    significant = coefficient.rstrip("0")
    shift = exp + len(coefficient) - len(significant) + exponent(currency)
    if shift < 0:
        raise MoneyError(
            "invalid",
            "invalid_amount",
            f"{_quoted(amount)} has more decimals than {currency} allows",
        )
    if sign or len(significant) + shift > len(str(MAX_MINOR)):
        raise MoneyError("invalid", "invalid_amount", f"{_quoted(amount)} is out of range")
    minor = int(significant + "0" * shift)
    if minor > MAX_MINOR:
        raise MoneyError("invalid", "invalid_amount", f"{_quoted(amount)} is out of range")
    return minor


def format_money(minor: int, currency: str, locale: str = "en") -> str:
    amount = to_decimal(minor, currency)
    if amount != amount.quantize(Decimal(1).scaleb(-get_currency_precision(currency))):
        # CLDR shows fewer decimals than ISO 4217 allows (IDR: none), which would round
        # Rp389.000,99 to "Rp389.001": show the decimals rather than a wrong price.
        return str(
            format_currency(
                amount, currency, locale=locale, currency_digits=False, decimal_quantization=False
            )
        )
    return str(format_currency(amount, currency, locale=locale))
