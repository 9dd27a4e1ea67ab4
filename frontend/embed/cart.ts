// The shopper's cart, two ways (docs/embed-events.md):
// - cart="page": the vendor's page owns the cart. The player fires `add-to-cart`,
//   `update-cart` and `checkout` on the element and waits for the page's answer
//   (`detail.respond(...)`, 10 s at most); `syncCart(state)` from the page keeps
//   the player's badge and cart sheet true.
// - otherwise Pasar's hosted cart (Storefront API /vendors/{slug}/cart): the
//   player edits it and hands it to the vendor's checkout URL.

import { errorText } from "../shared/i18n";
import type { CartLine, CartLineIn, CartState, Storefront } from "../shared/storefront";
import type { PasarAddToCart, PasarAnswer } from "./pasar-live";

export const ANSWER_TIMEOUT_MS = 10_000;

/** The add-to-cart payload (the shipped type, pasar-live.d.ts), before the player
 * adds `type` and `respond`; plus the product's title and picture for the hosted
 * cart's own line. */
export type AddToCart = Omit<PasarAddToCart, "type" | "respond"> & { title?: string; image_url?: string | null };

export type Answer = PasarAnswer;

/** What the player shows for a refusal the page gave without a message. */
export const NO_ANSWER: Answer = { ok: false, reason: "unavailable", message: "" };

/** What the shopper reads for the page's refusal: the page's own words, else the
 * catalogue's for its reason. */
export function answerText(refusal: Extract<Answer, { ok: false }>): string {
  return refusal.message || errorText(refusal.reason);
}

/** Fire a player → page event and wait for the page's answer. */
export function ask(target: HTMLElement, type: string, payload: Record<string, unknown>): Promise<Answer> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (answer: Answer) => {
      if (done) return;
      done = true;
      window.clearTimeout(timer);
      resolve(answer);
    };
    const timer = window.setTimeout(() => finish(NO_ANSWER), ANSWER_TIMEOUT_MS);
    const respond = (answer: unknown) => finish(normalise(answer));
    target.dispatchEvent(
      new CustomEvent(type, { detail: { ...payload, type, respond }, bubbles: true, composed: true }),
    );
  });
}

function normalise(answer: unknown): Answer {
  if (answer && typeof answer === "object" && "ok" in answer) {
    const a = answer as { ok: unknown; reason?: unknown; message?: unknown };
    if (a.ok === true) return { ok: true };
    return {
      ok: false,
      reason: typeof a.reason === "string" ? a.reason : "unavailable",
      message: typeof a.message === "string" ? a.message : "",
    };
  }
  return NO_ANSWER;
}

/** A cart state from the page, checked enough that drawing it cannot throw. */
export function cleanState(state: unknown): CartState | null {
  if (!state || typeof state !== "object") return null;
  const s = state as Partial<CartState>;
  if (!Array.isArray(s.lines)) return null;
  const lines: CartLine[] = s.lines
    .filter((l): l is CartLine => !!l && typeof l === "object" && typeof l.title === "string")
    .map((l) => ({
      variant_id: typeof l.variant_id === "string" ? l.variant_id : null,
      sku: typeof l.sku === "string" ? l.sku : null,
      product_id: typeof l.product_id === "string" ? l.product_id : null,
      title: String(l.title),
      quantity: Number.isSafeInteger(l.quantity) ? l.quantity : 0,
      unit_price: Number.isSafeInteger(l.unit_price) ? l.unit_price : 0,
      line_total: Number.isSafeInteger(l.line_total) ? l.line_total : 0,
      image_url: typeof l.image_url === "string" ? l.image_url : null,
      reservation_id: typeof l.reservation_id === "string" ? l.reservation_id : null,
    }));
  const count = Number.isSafeInteger(s.item_count) ? (s.item_count as number) : lines.reduce((n, l) => n + l.quantity, 0);
  return {
    lines,
    subtotal: Number.isSafeInteger(s.subtotal) ? (s.subtotal as number) : 0,
    currency: typeof s.currency === "string" && /^[A-Z]{3}$/.test(s.currency) ? s.currency : null,
    item_count: count,
    checkout_url: typeof s.checkout_url === "string" ? s.checkout_url : null,
  };
}

/** The hosted cart's lines as PUT wants them back. */
export function linesIn(state: CartState | null): CartLineIn[] {
  return (state?.lines ?? []).map((l) =>
    l.reservation_id
      ? { reservation_id: l.reservation_id }
      : { variant_id: l.variant_id ?? "", quantity: l.quantity, pasar_click: l.pasar_click ?? null },
  );
}

/** Add `item` to the hosted cart: the same variant (not from a deal) adds up. */
export async function hostedAdd(
  api: Storefront,
  slug: string,
  current: CartState | null,
  item: AddToCart,
): Promise<CartState> {
  const lines = linesIn(current);
  if (item.reservation_id) {
    if (!lines.some((l) => l.reservation_id === item.reservation_id)) lines.push({ reservation_id: item.reservation_id });
  } else {
    const same = lines.find((l) => !l.reservation_id && l.variant_id === item.variant_id);
    if (same) same.quantity = (same.quantity ?? 0) + item.quantity;
    else lines.push({ variant_id: item.variant_id, quantity: item.quantity, pasar_click: item.click_token });
  }
  return api.putCart(slug, lines, item.show_id);
}

/** Change one hosted line's quantity (0 removes it). */
export function hostedSetQuantity(
  api: Storefront,
  slug: string,
  current: CartState,
  index: number,
  quantity: number,
  showId: string | null,
): Promise<CartState> {
  const lines = linesIn(current);
  if (quantity <= 0 || lines[index]?.reservation_id) lines.splice(index, 1);
  else lines[index] = { ...lines[index], quantity };
  return api.putCart(slug, lines, showId);
}
