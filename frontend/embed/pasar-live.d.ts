// Types for <pasar-live>, the shopper's player: {PASAR_PUBLIC_URL}/embed.d.ts.
// The events and payloads are docs/embed-events.md; the element is docs/embed.md.
// (api-check.ts makes the build fail if the element stops matching these.)

/** Integer minor units of an ISO 4217 currency (Rp 94.500 is 94500 IDR). */
export type Minor = number;

/** A line of the cart as the page reports it with syncCart(). */
export interface PasarCartLine {
  variant_id: string | null;
  sku: string | null;
  product_id: string | null;
  title: string;
  quantity: number;
  unit_price: Minor;
  line_total: Minor;
  image_url: string | null;
  reservation_id: string | null;
}

export interface PasarCartState {
  lines: PasarCartLine[];
  subtotal: Minor;
  /** null for an empty cart. */
  currency: string | null;
  item_count: number;
  checkout_url?: string | null;
}

/** The page's answer to add-to-cart, update-cart and checkout. */
export type PasarAnswer = { ok: true } | { ok: false; reason: "out_of_stock" | "unavailable" | "limit" | string; message: string };

interface Answerable {
  /** Answer within 10 seconds; no answer counts as {ok: false, reason: "unavailable"}. */
  respond(answer: PasarAnswer): void;
}

export interface PasarAddToCart extends Answerable {
  type: "add-to-cart";
  show_id: string;
  product_id: string;
  variant_id: string;
  sku: string | null;
  quantity: number;
  /** Per unit; the deal's price for a deal. */
  price: Minor;
  currency: string;
  /** Set for a flash-deal claim: confirm it with the order before it expires. */
  reservation_id: string | null;
  deal_id: string | null;
  reservation_expires_at: string | null;
  pin_id: string | null;
  /** Send it back as `pasar_click` when you report the order. */
  click_token: string | null;
  product_url: string | null;
}

export interface PasarUpdateCart extends Answerable {
  type: "update-cart";
  show_id: string;
  variant_id: string | null;
  sku: string | null;
  /** 0 removes the line. */
  quantity: number;
  reservation_id: string | null;
}

export interface PasarCheckout extends Answerable {
  type: "checkout";
  show_id: string;
  reservation_ids: string[];
  click_token: string | null;
}

export interface PasarReady {
  show_id: string;
  state: "scheduled" | "live" | "ended" | "replay";
  /** The language the player chose: en, id, th, vi, fil, ms or zh-Hans. */
  locale: string;
}

export interface PasarProductClick {
  product_id: string;
  variant_id: string | null;
  url: string | null;
  click_token: string | null;
}

/** Hosted cart only: the shopper is on the way to your checkout URL. */
export interface PasarHostedCheckout {
  show_id: string;
  reservation_ids: string[];
  checkout_url: string;
}

/** Your live price or stock for a product: it wins over Pasar's copy. */
export interface PasarProductUpdate {
  product_id: string;
  title?: string;
  variants?: { id: string; price?: Minor; compare_at_price?: Minor | null; in_stock?: boolean }[];
}

export interface PasarLiveEventMap {
  "pasar:ready": CustomEvent<PasarReady>;
  "pasar:product-click": CustomEvent<PasarProductClick>;
  "pasar:checkout": CustomEvent<PasarHostedCheckout>;
  "add-to-cart": CustomEvent<PasarAddToCart>;
  "update-cart": CustomEvent<PasarUpdateCart>;
  checkout: CustomEvent<PasarCheckout>;
}

export interface PasarLiveElement extends HTMLElement {
  /** The show id (show_…); or use `vendor`. */
  show: string;
  /** The vendor's slug: its live show, else its next, else its latest replay. */
  vendor: string;
  /** en, id, th, vi, fil, ms, zh-Hans (any BCP 47 tag of those); default: the shop's, else the browser's. */
  locale: string | null;
  layout: "inline" | "floating" | "fullscreen";
  theme: "light" | "dark" | "auto";
  /** #rrggbb; default: the shop's brand colour. */
  brandColor: string | null;
  /** Intl's currencyDisplay: "narrowSymbol" (default: "Rp" in every language), "symbol", "code", "name". */
  currencyDisplay: "symbol" | "narrowSymbol" | "code" | "name" | null;
  /** "page": your page owns the cart (the events above); otherwise Pasar's hosted cart. */
  cart: string | null;

  /** Your cart changed: the player shows it (cart="page"). */
  syncCart(state: PasarCartState): void;
  updateProduct(update: PasarProductUpdate): void;
  /** A shopper token your site signs (HS256 JWT, `sub` and `exp`), or null to sign out. */
  setShopper(token: string | null): void;
  play(): void;
  pause(): void;
  mute(muted?: boolean): void;

  addEventListener<K extends keyof PasarLiveEventMap>(
    type: K,
    listener: (this: PasarLiveElement, ev: PasarLiveEventMap[K]) => unknown,
    options?: boolean | AddEventListenerOptions,
  ): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject, options?: boolean | AddEventListenerOptions): void;
}

declare global {
  interface HTMLElementTagNameMap {
    "pasar-live": PasarLiveElement;
  }
}
