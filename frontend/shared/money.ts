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

export function formatMoney(minor: number, currency: string, locale?: string): string {
  const amount = minor / 10 ** exponent(currency);
  return new Intl.NumberFormat(locale?.replace("_", "-"), { style: "currency", currency }).format(amount);
}
