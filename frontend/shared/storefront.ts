// The Storefront API as the player calls it, from any page: Pasar's origin is
// given (the script's own, not the vendor page's), no cookies, and the shopper is
// named by a header (a guest token from the socket's snapshot, or the shopper token
// the vendor's site signs). Types mirror src/pasar/shows/schemas.py (PublicShowOut)
// and src/pasar/commerce/schemas.py.

import { request } from "./api";
import type { ChatMessage, CouponPostedData, DealData, ProductPinnedData } from "./events";

export type ShowState = "scheduled" | "live" | "ended" | "replay";

export interface PublicVariant {
  id: string;
  /** The vendor's SKU: how the vendor's own cart knows the item. */
  sku: string | null;
  /** The option values joined, e.g. "M / Blue". */
  title: string;
  /** Option name → value. */
  options: Record<string, string>;
  price: number;
  compare_at_price: number | null;
  in_stock: boolean;
  low_stock: boolean;
}

export interface PublicProduct {
  id: string;
  title: string;
  /** Plain text. */
  description: string;
  url: string | null;
  currency: string;
  options: string[];
  images: { url: string; alt: string; width: number | null; height: number | null }[];
  variants: PublicVariant[];
}

export interface Chapter {
  pin_id: string;
  product_id: string;
  pinned_at: string;
  media_time: number | null;
}

export interface ShowDocument {
  id: string;
  title: string;
  description: string;
  state: ShowState;
  scheduled_at: string | null;
  started_at: string | null;
  ended_at: string | null;
  cover_url: string | null;
  host: { display_name: string } | null;
  vendor: {
    name: string;
    slug: string;
    locale: string;
    currency: string;
    brand_color: string | null;
    logo_url: string | null;
  };
  watch_url: string;
  embed_url: string;
  socket_url: string;
  playback: { hls_url: string; chapters: Chapter[] };
  lineup: PublicProduct[];
  pinned_products: ProductPinnedData[];
  deals: DealData[];
}

export interface Reservation {
  id: string;
  deal_id: string;
  show_id: string;
  product_id: string;
  variant_id: string;
  quantity: number;
  unit_price: number;
  currency: string;
  status: "held" | "confirmed" | "released" | "expired";
  pin_id: string | null;
  expires_at: string;
  checkout_url?: string | null;
}

export interface WaitlistPlace {
  id: string;
  deal_id: string;
  variant_id: string;
  quantity: number;
  status: "waiting" | "granted" | "left" | "lapsed";
  reservation_id: string | null;
  position: number | null;
}

export interface Click {
  click_token: string;
  pin_id: string | null;
}

/** The cart state the page (or the hosted cart) reports: docs/embed-events.md. */
export interface CartLine {
  variant_id: string | null;
  sku: string | null;
  product_id: string | null;
  title: string;
  quantity: number;
  unit_price: number;
  line_total: number;
  image_url: string | null;
  reservation_id: string | null;
  /** Hosted cart only. */
  variant_title?: string;
  problem?: string | null;
  pasar_click?: string | null;
}

export interface CartState {
  lines: CartLine[];
  subtotal: number;
  currency: string | null;
  item_count: number;
  checkout_url?: string | null;
}

export interface CartLineIn {
  variant_id?: string;
  quantity?: number;
  reservation_id?: string;
  pasar_click?: string | null;
}

export type Coupon = CouponPostedData;

/** A chat message of a show that has ended, with when it was said in the replay. */
export interface ReplayMessage extends ChatMessage {
  media_time: number | null;
}

export class Storefront {
  /** Set once known: X-Pasar-Shopper wins over X-Pasar-Guest. */
  guest: string | null = null;
  shopper: string | null = null;

  constructor(readonly origin: string) {}

  private url(path: string): string {
    return `${this.origin}/api/v1/storefront${path}`;
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    const h: Record<string, string> = { ...extra };
    if (this.shopper) h["X-Pasar-Shopper"] = this.shopper;
    else if (this.guest) h["X-Pasar-Guest"] = this.guest;
    return h;
  }

  private call<T>(method: string, path: string, body?: unknown, extra?: Record<string, string>): Promise<T> {
    return request<T>(method, this.url(path), body, { headers: this.headers(extra), credentials: "omit" });
  }

  /** A new guest (no token yet: the socket has not answered). */
  async newGuest(): Promise<string> {
    const made = await this.call<{ guest_token: string }>("POST", "/guests");
    this.guest = made.guest_token;
    return made.guest_token;
  }

  show(id: string): Promise<ShowDocument> {
    return this.call("GET", `/shows/${encodeURIComponent(id)}`);
  }

  currentShow(vendorSlug: string): Promise<ShowDocument> {
    return this.call("GET", `/vendors/${encodeURIComponent(vendorSlug)}/shows/current`);
  }

  click(showId: string, productId: string, variantId: string | null): Promise<Click> {
    const body: Record<string, string> = { product_id: productId };
    if (variantId) body.variant_id = variantId;
    return this.call("POST", `/shows/${encodeURIComponent(showId)}/clicks`, body);
  }

  replayChat(showId: string, after: string | null): Promise<{ data: ReplayMessage[]; next_cursor: string | null }> {
    const q = after ? `?after=${encodeURIComponent(after)}` : "";
    return this.call("GET", `/shows/${encodeURIComponent(showId)}/replay/chat${q}`);
  }

  coupons(showId: string): Promise<Coupon[]> {
    return this.call("GET", `/shows/${encodeURIComponent(showId)}/coupons`);
  }

  /** One tap, one key: a retry of the same tap sends the same key. */
  claim(dealId: string, variantId: string | null, quantity: number, pinId: string | null, key: string): Promise<Reservation> {
    const body: Record<string, unknown> = { quantity };
    if (variantId) body.variant_id = variantId;
    if (pinId) body.pin_id = pinId;
    return this.call("POST", `/deals/${encodeURIComponent(dealId)}/claims`, body, { "Idempotency-Key": key });
  }

  joinWaitlist(dealId: string, variantId: string | null, quantity: number): Promise<WaitlistPlace> {
    const body: Record<string, unknown> = { quantity };
    if (variantId) body.variant_id = variantId;
    return this.call("POST", `/deals/${encodeURIComponent(dealId)}/waitlist`, body);
  }

  waitlistPlace(dealId: string): Promise<WaitlistPlace> {
    return this.call("GET", `/deals/${encodeURIComponent(dealId)}/waitlist`);
  }

  leaveWaitlist(dealId: string): Promise<void> {
    return this.call("DELETE", `/deals/${encodeURIComponent(dealId)}/waitlist`);
  }

  reservation(id: string): Promise<Reservation> {
    return this.call("GET", `/reservations/${encodeURIComponent(id)}`);
  }

  release(id: string): Promise<Reservation> {
    return this.call("POST", `/reservations/${encodeURIComponent(id)}/release`);
  }

  cart(vendorSlug: string): Promise<CartState> {
    return this.call("GET", `/vendors/${encodeURIComponent(vendorSlug)}/cart`);
  }

  putCart(vendorSlug: string, lines: CartLineIn[], showId: string | null): Promise<CartState> {
    return this.call("PUT", `/vendors/${encodeURIComponent(vendorSlug)}/cart`, { lines, show_id: showId });
  }

  checkout(vendorSlug: string): Promise<{ checkout_url: string }> {
    return this.call("POST", `/vendors/${encodeURIComponent(vendorSlug)}/cart/checkout`);
  }
}
