// What the player knows about its show: the public show document first (drawn
// before the socket or the video arrive), then the show socket's snapshot and
// events on top. Plain data and one `changed` callback; the element renders it.

import type {
  ChatMessage,
  CouponPostedData,
  DealData,
  DealEndedData,
  Me,
  Poll,
  ProductPinnedData,
  UserMutedData,
} from "../shared/events";
import type { ShowSocket } from "../shared/socket";
import type { PublicProduct, ShowDocument, ShowState } from "../shared/storefront";

/** Messages kept on screen and in memory (the overlay shows the last few). */
const CHAT_KEEP = 100;

export interface Deal extends DealData {
  /** Set when the deal ended while the player was open. */
  ended: DealEndedData["reason"] | null;
}

export class ShowModel {
  doc: ShowDocument | null = null;
  state: ShowState | null = null;
  stream: "live" | "reconnecting" | "ended" | null = null;
  me: Me | null = null;
  chat: ChatMessage[] = [];
  pinnedMessage: ChatMessage | null = null;
  pins: ProductPinnedData[] = [];
  deals = new Map<string, Deal>();
  poll: Poll | null = null;
  coupons: CouponPostedData[] = [];
  viewers = 0;
  likes = 0;
  slowModeSeconds = 0;
  muted: UserMutedData | null = null;
  /** The socket reached the show at least once. */
  connected = false;

  constructor(private readonly changed: () => void) {}

  setDocument(doc: ShowDocument): void {
    this.doc = doc;
    this.state ??= doc.state;
    if (!this.connected) {
      this.pins = doc.pinned_products;
      this.deals = new Map(doc.deals.map((d) => [d.deal_id, { ...d, ended: null }]));
    }
    this.changed();
  }

  product(id: string): PublicProduct | undefined {
    return this.doc?.lineup.find((p) => p.id === id);
  }

  /** The deal running for a product now (announced, not ended), if any. */
  dealFor(productId: string, now = Date.now()): Deal | undefined {
    for (const d of this.deals.values()) {
      if (d.product_id === productId && !d.ended && Date.parse(d.ends_at) > now) return d;
    }
    return undefined;
  }

  /** Deals a shopper may see now: running or counting down, or just sold out. */
  visibleDeals(now = Date.now()): Deal[] {
    return [...this.deals.values()].filter((d) => (d.ended ? d.ended === "sold_out" : Date.parse(d.ends_at) > now));
  }

  listen(socket: ShowSocket): void {
    const on = socket.on.bind(socket);
    on("snapshot", (s) => {
      this.connected = true;
      this.state = s.state;
      this.me = s.me;
      this.chat = s.chat.slice(-CHAT_KEEP);
      this.pinnedMessage = s.pinned_message;
      this.pins = s.pinned_products;
      const before = this.deals;
      this.deals = new Map(s.deals.map((d) => [d.deal_id, { ...d, ended: null }]));
      // A sold-out deal the shopper was looking at stays (its waitlist still matters).
      for (const [id, d] of before) if (!this.deals.has(id) && d.ended === "sold_out") this.deals.set(id, d);
      this.poll = s.poll;
      this.viewers = s.viewers;
      this.likes = s.likes;
      this.slowModeSeconds = s.slow_mode_seconds;
      this.changed();
    });
    on("show.state", (d) => {
      this.state = d.state;
      if (d.state === "ended" || d.state === "replay") this.pins = [];
      this.changed();
    });
    on("stream.status", (d) => {
      this.stream = d.status;
      this.changed();
    });
    on("chat.message", (m) => {
      if (this.chat.some((c) => c.id === m.id)) return;
      this.chat = [...this.chat, m].slice(-CHAT_KEEP);
      this.changed();
    });
    on("chat.deleted", (d) => {
      this.chat = this.chat.filter((c) => c.id !== d.id);
      if (this.pinnedMessage?.id === d.id) this.pinnedMessage = null;
      this.changed();
    });
    on("chat.pinned", (d) => {
      this.pinnedMessage = d.message;
      this.changed();
    });
    on("product.pinned", (p) => {
      this.pins = [...this.pins.filter((x) => x.pin_id !== p.pin_id), p].slice(-3);
      this.changed();
    });
    on("product.unpinned", (p) => {
      this.pins = this.pins.filter((x) => x.pin_id !== p.pin_id);
      this.changed();
    });
    on("deal.started", (d) => {
      this.deals.set(d.deal_id, { ...d, ended: null });
      this.changed();
    });
    on("deal.updated", (d) => {
      const deal = this.deals.get(d.deal_id);
      if (deal) deal.units_left = d.units_left;
      this.changed();
    });
    on("deal.ended", (d) => {
      const deal = this.deals.get(d.deal_id);
      if (deal) {
        deal.ended = d.reason;
        if (d.reason === "sold_out") deal.units_left = 0;
      }
      this.changed();
    });
    const poll = (p: Poll) => {
      this.poll = p;
      this.changed();
    };
    on("poll.started", poll);
    on("poll.results", poll);
    on("poll.closed", poll);
    on("coupon.posted", (c) => {
      this.coupons = [c, ...this.coupons.filter((x) => x.coupon_id !== c.coupon_id)];
      this.changed();
    });
    on("like.count", (d) => {
      this.likes = d.count;
      this.changed();
    });
    on("viewers.count", (d) => {
      this.viewers = d.count;
      this.changed();
    });
    on("user.muted", (d) => {
      this.muted = d;
      this.changed();
    });
  }

  /** Muted now (a mute with an end in the past has run out). */
  isMuted(now = Date.now()): boolean {
    const m = this.muted;
    return m !== null && (m.until === null || Date.parse(m.until) > now);
  }
}
