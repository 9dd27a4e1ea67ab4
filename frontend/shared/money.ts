// Money arrives as integer minor units + ISO 4217 code. The minor-unit table is
// ISO 4217's, the same one the server uses (src/pasar/money.py).
const EXPONENTS: Record<string, number> = {
  BIF: 0, CLP: 0, DJF: 0, GNF: 0, ISK: 0, JPY: 0, KMF: 0, KRW: 0, PYG: 0, RWF: 0,
  UGX: 0, UYI: 0, VND: 0, VUV: 0, XAF: 0, XOF: 0, XPF: 0,
  BHD: 3, IQD: 3, JOD: 3, KWD: 3, LYD: 3, OMR: 3, TND: 3,
  CLF: 4, UYW: 4,
};

export function exponent(currency: string): number {
  return EXPONENTS[currency.toUpperCase()] ?? 2;
}

/** Minor units of `currency` for people, e.g. "Rp 62.300", "₱1,299.50", "62.300 ₫".
 * `display` is Intl's currencyDisplay (the embed's `currency-display` attribute):
 * "narrowSymbol" shows "Rp" where a foreign locale would say "IDR". */
export function formatMoney(
  minor: number,
  currency: string,
  locale?: string,
  display?: Intl.NumberFormatOptions["currencyDisplay"],
): string {
  const digits = exponent(currency);
  const options: Intl.NumberFormatOptions = { style: "currency", currency };
  if (display) options.currencyDisplay = display;
  // Intl shows some currencies without decimals (IDR: "Rp 62.301"); an amount that
  // has minor units keeps them all ("Rp 62.300,50").
  if (minor % 10 ** digits !== 0) options.minimumFractionDigits = options.maximumFractionDigits = digits;
  return new Intl.NumberFormat(locale?.replace("_", "-"), options).format(minor / 10 ** digits);
}

/** An amount typed in major units ("62300", "19.5"; "." as the decimal point, as
 * <input type="number"> gives it) as integer minor units of `currency`, or null
 * when it is not a plain non-negative amount or has more decimals than the
 * currency has minor-unit digits. Exact: no floating point on the way. */
export function toMinor(amount: string, currency: string): number | null {
  const digits = exponent(currency);
  const m = /^\s*(\d+)(?:\.(\d*))?\s*$/.exec(amount);
  if (!m) return null;
  const fraction = (m[2] ?? "").replace(/0+$/, "");
  if (fraction.length > digits) return null;
  const minor = Number(m[1] + fraction.padEnd(digits, "0"));
  return Number.isSafeInteger(minor) ? minor : null;
}

/** Minor units as a major-unit amount for an input field ("62300", "19.5"). */
export function toMajorInput(minor: number, currency: string): string {
  const digits = exponent(currency);
  const sign = minor < 0 ? "-" : "";
  const text = String(Math.abs(minor)).padStart(digits + 1, "0");
  const whole = text.slice(0, text.length - digits);
  const fraction = text.slice(text.length - digits).replace(/0+$/, "");
  return sign + whole + (fraction ? "." + fraction : "");
}
