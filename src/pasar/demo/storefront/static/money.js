// Prices arrive as integer minor units of an ISO 4217 currency (IDR has 2 minor
// digits, as in Pasar). Intl shows IDR the Indonesian way: "Rp 389.000".
const EXPONENTS = { BIF: 0, CLP: 0, JPY: 0, KRW: 0, VND: 0, BHD: 3, KWD: 3, OMR: 3 };

export function exponent(currency) {
  return EXPONENTS[currency.toUpperCase()] ?? 2;
}

export function formatMoney(minor, currency, locale = "id-ID") {
  const digits = exponent(currency);
  const options = { style: "currency", currency };
  // An amount with minor units keeps them all rather than being rounded away.
  if (minor % 10 ** digits !== 0) {
    options.minimumFractionDigits = options.maximumFractionDigits = digits;
  }
  return new Intl.NumberFormat(locale, options).format(minor / 10 ** digits);
}
