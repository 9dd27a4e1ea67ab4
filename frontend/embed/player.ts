// <pasar-live>: the shopper's player on any vendor's page (docs/embed.md).
// One Lit element with a Shadow DOM (neither the page's CSS nor ours leaks); it
// draws the show document's shell at once, then follows the show socket, and
// loads hls.js in its own chunk only when there is video to play.
// The templates are in views.ts, the styles in styles.ts; this module holds the
// state and what the shopper and the page's developer can do.

import { LitElement, type PropertyValues } from "lit";
import { ApiError } from "../shared/api";
import { shopperMessage } from "../shared/errors";
import type { ChatMessage, DealEndedData, WaitlistGrantedData } from "../shared/events";
import { locale, pickLocale, setLocale, t } from "../shared/i18n";
import { ShowSocket } from "../shared/socket";
import {
  type CartState,
  type PublicProduct,
  type PublicVariant,
  type ReplayMessage,
  type Reservation,
  Storefront,
  type WaitlistPlace,
} from "../shared/storefront";
import { type AddToCart, answerText, ask, cleanState, hostedAdd, hostedSetQuantity } from "./cart";
import { type Deal, ShowModel } from "./model";
import { Playback } from "./playback";
import { styles } from "./styles";
import { BRAND_RE, randomKey, store, textOn } from "./util";
import { render } from "./views";

/** Where embed.js came from: Pasar's origin, whatever page it runs on. */
const PASAR_ORIGIN = new URL(import.meta.url).origin;
const GUEST_KEY = "pasar:guest";
const VOTES_KEY = "pasar:votes";
const TOAST_MS = 4000;

export type Layout = "inline" | "floating" | "fullscreen";
export type Sheet =
  | { kind: "product"; productId: string; selected: Record<string, string>; quantity: number }
  | { kind: "deal"; dealId: string; variantId: string | null; quantity: number }
  | { kind: "lineup" }
  | { kind: "cart" }
  | { kind: "coupons" }
  | { kind: "chat" };

/** A vendor's live override of a product (updateProduct): their price and stock win. */
export interface ProductUpdate {
  product_id: string;
  title?: string;
  variants?: { id: string; price?: number; compare_at_price?: number | null; in_stock?: boolean }[];
}

interface Heart {
  id: number;
  x: number;
}

export class PasarLive extends LitElement {
  static styles = styles;
  static properties = {
    show: { type: String, reflect: true },
    vendor: { type: String },
    locale: { type: String },
    layout: { type: String, reflect: true },
    theme: { type: String, reflect: true },
    brandColor: { type: String, attribute: "brand-color" },
    currencyDisplay: { type: String, attribute: "currency-display" },
    cart: { type: String },
    expanded: { type: Boolean, reflect: true },
    debug: { type: Boolean },
  };

  show = "";
  vendor = "";
  declare locale: string | null;
  layout: Layout = "inline";
  theme: "light" | "dark" | "auto" = "auto";
  brandColor: string | null = null;
  currencyDisplay: "symbol" | "narrowSymbol" | "code" | "name" | null = null;
  /** "page": the vendor's page owns the cart; anything else: Pasar's hosted cart. */
  cart: string | null = null;
  /** Floating layout: the bubble was tapped open. */
  expanded = false;
  /** A line with the latency and the buffer, for operators (`/watch/{id}?debug`). */
  debug = false;

  // -- state the templates read (views.ts) --------------------------------------
  readonly model = new ShowModel(() => this.requestUpdate());
  readonly api = new Storefront(PASAR_ORIGIN);
  playback: Playback | null = null;
  socket: ShowSocket | null = null;
  /** Loading the document failed: the reason's catalogue key. */
  failure: string | null = null;
  ready = false;
  sheet: Sheet | null = null;
  tab: "chat" | "products" = "chat";
  toast: string | null = null;
  hearts: Heart[] = [];
  draft = "";
  sending = false;
  cartState: CartState | null = null;
  reservations = new Map<string, Reservation>();
  waitlist = new Map<string, WaitlistPlace>();
  /** Deal ids with a claim or waitlist call on the way. */
  busy = new Set<string>();
  /** The last refusal per deal, shown in the deal sheet. */
  refusals = new Map<string, { code: string; text: string; waitlist: boolean }>();
  clicks = new Map<string, string>();
  private opening = new Map<string, Promise<void>>();
  private outbox: { type: "chat.send"; text: string; ref: string }[] = [];
  votes: Record<string, number> = {};
  copied: string | null = null;
  now = Date.now();
  updates = new Map<string, ProductUpdate>();
  videoMuted = true;
  /** The socket refused this page (its origin is not among the vendor's). */
  blocked = false;
  /** The replay's chat, in media-time order (loaded once the video is the replay). */
  replayChat: ReplayMessage[] | null = null;
  private loadingReplay = false;

  private toastTimer: number | undefined;
  private ticker: number | undefined;
  private heartId = 0;
  private lastLikes = -1;
  private started = false;
  /** The show the socket follows. */
  private socketFor: string | null = null;
  private resizer: ResizeObserver | null = null;
  private reportedHeight = 0;
  private painted = false;
  private drag: { x: number; y: number; left: number; top: number; moved: boolean } | null = null;

  constructor() {
    super();
    this.locale = null;
  }

  connectedCallback(): void {
    super.connectedCallback();
    this.ticker = window.setInterval(() => {
      this.now = Date.now();
      this.requestUpdate();
    }, 1000);
    if (this.started) {
      this.socket?.start();
      this.playback?.start();
    }
    if (window.parent !== window) this.reportSize();
  }

  /** In an iframe (the iframe page, oEmbed): tell the page framing us the height
   * the player wants at the width it was given, so it can size the frame (docs/embed.md). */
  private reportSize(): void {
    this.resizer?.disconnect();
    this.resizer = new ResizeObserver(() => {
      const width = this.clientWidth;
      if (!width) return;
      const height = Math.round(width < 900 ? (width * 16) / 9 : (width * 9) / 16);
      if (height === this.reportedHeight) return;
      this.reportedHeight = height;
      // Nothing secret in it: any page framing the show may read its size.
      window.parent.postMessage({ type: "pasar:size", show_id: this.show, width, height }, "*");
    });
    this.resizer.observe(this);
  }

  disconnectedCallback(): void {
    super.disconnectedCallback();
    this.resizer?.disconnect();
    window.clearInterval(this.ticker);
    this.socket?.stop();
    this.playback?.stop();
  }

  protected willUpdate(changed: PropertyValues<this>): void {
    const wanted = (changed.has("show") || changed.has("vendor")) && (this.show || this.vendor);
    // Loading a vendor's current show sets `show` to it: that is no new show to load.
    if (wanted && !(this.show && this.show === this.model.doc?.id)) void this.load();
    if (changed.has("locale") && this.ready) void this.applyLocale();
  }

  protected render() {
    return render(this);
  }

  protected updated(): void {
    if (this.model.doc && !this.painted) {
      // The shell (title, host, product card) is on screen: bench/embed.py reads this.
      this.painted = true;
      performance.mark("pasar:shell");
    }
    const video = this.renderRoot.querySelector("video");
    if (video && this.playback?.video !== video && this.model.doc) this.attachVideo(video);
    if (this.playback?.info.live === false && this.replayChat === null && !this.loadingReplay) {
      void this.loadReplayChat();
    }
    const log = this.renderRoot.querySelector(".panel .chat-log, .sheet .chat-log");
    if (log && log.scrollHeight - log.scrollTop - log.clientHeight < 80) log.scrollTop = log.scrollHeight;
  }

  // -- loading ------------------------------------------------------------------

  private async load(): Promise<void> {
    this.failure = null;
    // With a locale attribute, its catalogue loads while the show document does
    // (on a slow network each round trip is most of the wait).
    const early = this.locale ? setLocale(pickLocale(this.locale, null)) : null;
    // A known show's socket opens alongside too: chat does not wait for the document.
    if (this.show && this.socketFor !== this.show) this.connect(this.show);
    try {
      const doc = this.show ? await this.api.show(this.show) : await this.api.currentShow(this.vendor);
      await early;
      await this.applyLocale(doc.vendor.locale); // before the first paint with text
      this.model.setDocument(doc);
      if (this.show !== doc.id) this.show = doc.id;
      if (this.socketFor !== doc.id) this.connect(doc.id);
      else if (this.cart !== "page") void this.refreshHostedCart();
      this.ready = true;
      this.fire("pasar:ready", { show_id: doc.id, state: doc.state, locale: locale() });
    } catch (e) {
      this.failure = e instanceof ApiError && e.status === 404 ? "state.not_found" : "error.network";
      await this.applyLocale();
      this.ready = true;
    }
    this.requestUpdate();
  }

  private async applyLocale(vendorDefault = this.model.doc?.vendor.locale ?? null): Promise<void> {
    const lang = pickLocale(this.locale, vendorDefault);
    if (lang !== locale()) await setLocale(lang);
    this.setAttribute("lang", lang);
    this.requestUpdate();
  }

  private connect(showId: string): void {
    this.socket?.stop();
    this.socketFor = showId;
    this.api.guest = store.get(GUEST_KEY);
    try {
      this.votes = JSON.parse(store.get(VOTES_KEY) ?? "{}") as Record<string, number>;
    } catch {
      this.votes = {};
    }
    const socket = new ShowSocket({ showId, origin: PASAR_ORIGIN, guest: this.api.guest, shopper: this.api.shopper });
    this.socket = socket;
    this.model.listen(socket);
    socket.on("snapshot", (s) => {
      if (s.me.guest_token) {
        this.api.guest = s.me.guest_token;
        store.set(GUEST_KEY, s.me.guest_token);
      }
      this.lastLikes = s.likes;
      this.flushOutbox();
      if (this.cart !== "page" && this.model.doc) void this.refreshHostedCart();
    });
    socket.on("like.count", (d) => {
      // Other viewers' likes float up too (a few at most).
      const more = this.lastLikes < 0 ? 0 : Math.min(3, d.count - this.lastLikes);
      this.lastLikes = d.count;
      for (let i = 0; i < more; i++) this.floatHeart();
    });
    socket.on("stream.status", (d) => {
      if (d.status === "live") this.playback?.nudge();
    });
    socket.on("show.state", (d) => {
      // A scheduled show went on air: start looking for its video.
      if (d.state !== "scheduled") this.playback?.start();
      this.playback?.nudge();
    });
    socket.on("deal.ended", (d) => this.dealEnded(d));
    socket.on("waitlist.granted", (g) => void this.granted(g));
    socket.on("ack", (a) => {
      if (a.status === "held") this.say(t("chat.held"));
    });
    socket.on("error", (e) => {
      if (e.code !== "already_voted") this.say(shopperMessage(e));
    });
    socket.onStatus((status) => {
      if (status === "open") this.flushOutbox();
      if (status !== "stopped") return;
      if (socket.stopped?.reason === "forbidden") {
        this.blocked = true;
        console.warn(
          `pasar: the show refused this page (${socket.stopped.detail}). Add ${location.origin} to the shop's allowed embed origins.`,
        );
      } else if (socket.stopped?.reason === "not_found") this.failure = "state.not_found";
      this.requestUpdate();
    });
    socket.start();
    this.started = true;
    void this.api.coupons(showId).then(
      (list) => {
        if (!this.model.coupons.length) this.model.coupons = list;
        this.requestUpdate();
      },
      () => undefined,
    );
  }

  private attachVideo(video: HTMLVideoElement): void {
    this.playback?.stop();
    const doc = this.model.doc;
    if (!doc) return;
    video.muted = this.videoMuted;
    this.playback = new Playback(video, doc.playback.hls_url, () => this.requestUpdate());
    video.addEventListener("volumechange", () => {
      this.videoMuted = video.muted;
      this.requestUpdate();
    });
    video.addEventListener("timeupdate", () => this.requestUpdate());
    if (this.model.state !== "scheduled") this.playback.start();
  }

  /** Every page of the replay's chat (a show's chat is at most a few thousand lines). */
  private async loadReplayChat(): Promise<void> {
    const doc = this.model.doc;
    if (!doc) return;
    this.loadingReplay = true;
    const all: ReplayMessage[] = [];
    let after: string | null = null;
    try {
      for (let page = 0; page < 20; page++) {
        const got: { data: ReplayMessage[]; next_cursor: string | null } = await this.api.replayChat(doc.id, after);
        all.push(...got.data.filter((m) => m.media_time !== null));
        after = got.next_cursor;
        if (!after) break;
      }
      all.sort((a, b) => (a.media_time ?? 0) - (b.media_time ?? 0));
      this.replayChat = all;
    } catch {
      this.replayChat = []; // a replay without its chat still plays
    }
    this.loadingReplay = false;
    this.requestUpdate();
  }

  /** The chat to show: live, or the replay's up to where the video is. */
  visibleChat(): ChatMessage[] {
    if (this.replayChat === null) return this.model.chat;
    const at = this.playback?.video.currentTime ?? 0;
    let end = 0;
    while (end < this.replayChat.length && (this.replayChat[end].media_time ?? 0) <= at) end++;
    return this.replayChat.slice(0, end);
  }

  // -- the page's developer: JS API (docs/embed.md) --------------------------------

  /** The page's cart changed: show it (cart="page"). */
  syncCart(state: CartState): void {
    const clean = cleanState(state);
    if (clean) {
      this.cartState = clean;
      this.requestUpdate();
    }
  }

  /** The vendor's live price or stock for a product wins over Pasar's. */
  updateProduct(update: ProductUpdate): void {
    if (!update || typeof update.product_id !== "string") return;
    this.updates.set(update.product_id, update);
    this.requestUpdate();
  }

  /** The shopper signed in on the vendor's site (a token it signs), or out (null). */
  setShopper(token: string | null): void {
    this.api.shopper = token || null;
    this.socket?.setShopper(token || null);
    if (this.cart !== "page") void this.refreshHostedCart();
  }

  play(): void {
    this.playback?.play();
  }

  pause(): void {
    this.playback?.video.pause();
  }

  mute(muted = true): void {
    const video = this.playback?.video;
    if (!video) return;
    video.muted = muted;
    if (!muted && video.volume === 0) video.volume = 1;
    if (!muted) this.playback?.play();
  }

  // -- what the shopper does -------------------------------------------------------

  /** A product with the vendor's overrides applied. */
  product(id: string): PublicProduct | undefined {
    const p = this.model.product(id);
    const u = this.updates.get(id);
    if (!p || !u) return p;
    const variants = p.variants.map((v): PublicVariant => {
      const o = u.variants?.find((x) => x.id === v.id);
      if (!o) return v;
      return {
        ...v,
        price: Number.isSafeInteger(o.price) ? (o.price as number) : v.price,
        compare_at_price: o.compare_at_price === undefined ? v.compare_at_price : o.compare_at_price,
        in_stock: typeof o.in_stock === "boolean" ? o.in_stock : v.in_stock,
      };
    });
    return { ...p, title: typeof u.title === "string" ? u.title : p.title, variants };
  }

  get brand(): { bg: string; fg: string } {
    const pick = [this.brandColor, this.model.doc?.vendor.brand_color].find((c) => c && BRAND_RE.test(c));
    const bg = pick ?? "#ee4d2d";
    return { bg, fg: textOn(bg) };
  }

  say(text: string): void {
    this.toast = text;
    window.clearTimeout(this.toastTimer);
    this.toastTimer = window.setTimeout(() => {
      this.toast = null;
      this.requestUpdate();
    }, TOAST_MS);
    this.requestUpdate();
  }

  fire(type: string, detail: Record<string, unknown>): void {
    this.dispatchEvent(new CustomEvent(type, { detail, bubbles: true, composed: true }));
  }

  open(sheet: Sheet | null): void {
    this.sheet = sheet;
    if (this.layout === "floating" && sheet) this.expanded = true;
    this.requestUpdate();
  }

  toggleMute(): void {
    this.mute(!this.videoMuted);
  }

  like(): void {
    this.socket?.send({ type: "like" });
    this.floatHeart();
  }

  private floatHeart(): void {
    const heart = { id: ++this.heartId, x: Math.round(Math.random() * 24) };
    this.hearts = [...this.hearts.slice(-12), heart];
    window.setTimeout(() => {
      this.hearts = this.hearts.filter((h) => h.id !== heart.id);
      this.requestUpdate();
    }, 1600);
    this.requestUpdate();
  }

  sendChat(): void {
    const text = this.draft.trim();
    if (!text) return;
    const command = { type: "chat.send" as const, text, ref: randomKey() };
    if (this.socket?.send(command)) {
      this.draft = "";
    } else if (this.socket && this.socket.status !== "stopped" && this.outbox.length < 3) {
      // Still connecting (or reconnecting after the phone slept): it goes when the socket is back.
      this.outbox.push(command);
      this.draft = "";
    } else {
      this.say(t("error.network"));
    }
    this.requestUpdate();
  }

  private flushOutbox(): void {
    while (this.outbox.length && this.socket?.send(this.outbox[0])) this.outbox.shift();
  }

  vote(pollId: string, option: number): void {
    if (pollId in this.votes) return;
    if (!this.socket?.send({ type: "poll.vote", poll_id: pollId, option })) return this.say(t("error.network"));
    this.votes = { ...this.votes, [pollId]: option };
    store.set(VOTES_KEY, JSON.stringify(this.votes));
    this.requestUpdate();
  }

  async copyCoupon(code: string): Promise<void> {
    try {
      await navigator.clipboard.writeText(code);
      this.copied = code;
      this.say(t("coupon.copied"));
    } catch {
      // No clipboard (an insecure page, a refused permission): the code is on screen.
      this.say(code);
    }
  }

  share(): void {
    const url = this.model.doc?.watch_url;
    if (!url) return;
    const title = this.model.doc?.title ?? "";
    if (navigator.share) {
      navigator.share({ title, url }).catch(() => undefined);
      return;
    }
    navigator.clipboard.writeText(url).then(
      () => this.say(t("player.link_copied")),
      () => this.say(url),
    );
  }

  /** The shopper opened a product: a click token for attribution, an event for the page. */
  async openProduct(productId: string): Promise<void> {
    const p = this.product(productId);
    if (!p) return;
    const first = p.variants.find((v) => v.in_stock) ?? p.variants[0];
    const selected = first ? { ...first.options } : {};
    this.open({ kind: "product", productId, selected, quantity: 1 });
    const opened = this.clickToken(productId, null).then((token) => {
      this.fire("pasar:product-click", { product_id: productId, variant_id: null, url: p.url, click_token: token });
    });
    this.opening.set(productId, opened);
    await opened;
  }

  private async clickToken(productId: string, variantId: string | null): Promise<string | null> {
    const doc = this.model.doc;
    if (!doc) return null;
    try {
      const click = await this.api.click(doc.id, productId, variantId);
      this.clicks.set(productId, click.click_token);
      return click.click_token;
    } catch {
      return this.clicks.get(productId) ?? null; // attribution is best effort
    }
  }

  /** The variant the sheet's option choices name, if it exists. */
  chosenVariant(p: PublicProduct, selected: Record<string, string>): PublicVariant | undefined {
    if (p.variants.length === 1) return p.variants[0];
    return p.variants.find((v) => p.options.every((axis) => v.options[axis] === selected[axis]));
  }

  async addToCart(p: PublicProduct, v: PublicVariant, quantity: number): Promise<void> {
    const doc = this.model.doc;
    if (!doc) return;
    await this.opening.get(p.id); // the page hears product-click before add-to-cart
    const token = await this.clickToken(p.id, v.id);
    const pin = this.model.pins.find((x) => x.product_id === p.id);
    const item: AddToCart = {
      show_id: doc.id,
      product_id: p.id,
      variant_id: v.id,
      sku: v.sku,
      quantity,
      price: v.price,
      currency: p.currency,
      reservation_id: null,
      deal_id: null,
      reservation_expires_at: null,
      pin_id: pin?.pin_id ?? null,
      click_token: token,
      product_url: p.url,
      title: p.title,
      image_url: p.images[0]?.url ?? null,
    };
    if (await this.putInCart(item)) this.open(null);
  }

  /** True when the item is in the cart (the page's or the hosted one). */
  private async putInCart(item: AddToCart): Promise<boolean> {
    if (this.cart === "page") {
      const { title: _t, image_url: _i, ...payload } = item;
      const answer = await ask(this, "add-to-cart", payload);
      if (answer.ok) this.say(t("product.added"));
      else this.say(answerText(answer));
      return answer.ok;
    }
    const doc = this.model.doc;
    if (!doc) return false;
    try {
      await this.ensureShopper();
      this.cartState = await hostedAdd(this.api, doc.vendor.slug, this.cartState, item);
      this.say(t("product.added"));
      return true;
    } catch (e) {
      this.say(shopperMessage(e));
      return false;
    }
  }

  async setLineQuantity(index: number, quantity: number): Promise<void> {
    const doc = this.model.doc;
    const state = this.cartState;
    if (!doc || !state) return;
    const line = state.lines[index];
    if (!line) return;
    if (this.cart === "page") {
      const answer = await ask(this, "update-cart", {
        show_id: doc.id,
        variant_id: line.variant_id,
        sku: line.sku,
        quantity: Math.max(0, quantity),
        reservation_id: line.reservation_id,
      });
      if (!answer.ok) this.say(answerText(answer));
      return;
    }
    try {
      this.cartState = await hostedSetQuantity(this.api, doc.vendor.slug, state, index, quantity, doc.id);
      this.say(t("cart.updated"));
    } catch (e) {
      this.say(shopperMessage(e));
    }
  }

  async checkout(): Promise<void> {
    const doc = this.model.doc;
    if (!doc) return;
    const reservationIds = (this.cartState?.lines ?? []).flatMap((l) => (l.reservation_id ? [l.reservation_id] : []));
    const latest = [...this.clicks.values()].pop() ?? null;
    if (this.cart === "page") {
      const answer = await ask(this, "checkout", {
        show_id: doc.id,
        reservation_ids: reservationIds,
        click_token: latest,
      });
      if (!answer.ok) this.say(answerText(answer));
      return;
    }
    try {
      const handed = await this.api.checkout(doc.vendor.slug);
      this.fire("pasar:checkout", { show_id: doc.id, reservation_ids: reservationIds, checkout_url: handed.checkout_url });
      window.open(handed.checkout_url, "_top");
    } catch (e) {
      this.say(shopperMessage(e));
    }
  }

  async refreshHostedCart(): Promise<void> {
    const doc = this.model.doc;
    if (!doc || !(this.api.guest || this.api.shopper)) return;
    try {
      this.cartState = await this.api.cart(doc.vendor.slug);
      this.requestUpdate();
    } catch {
      // The badge stays as it was; the next change refreshes it.
    }
  }

  /** Guests get a token from the socket's snapshot; one is asked for if the
   * socket has not answered yet (the shopper tapped before it connected). */
  private async ensureShopper(): Promise<void> {
    if (this.api.shopper || this.api.guest) return;
    store.set(GUEST_KEY, await this.api.newGuest());
  }

  // -- flash deals ----------------------------------------------------------------

  openDeal(deal: Deal): void {
    this.open({ kind: "deal", dealId: deal.deal_id, variantId: deal.variant_ids.length === 1 ? deal.variant_ids[0] : null, quantity: 1 });
  }

  async claim(deal: Deal, variantId: string | null, quantity: number): Promise<void> {
    if (this.busy.has(deal.deal_id)) return;
    this.busy.add(deal.deal_id);
    this.refusals.delete(deal.deal_id);
    this.requestUpdate();
    const key = randomKey(); // one tap; its retry (network) reuses it
    const pin = this.model.pins.find((x) => x.product_id === deal.product_id);
    try {
      await this.ensureShopper();
      let reservation: Reservation;
      try {
        reservation = await this.api.claim(deal.deal_id, variantId, quantity, pin?.pin_id ?? null, key);
      } catch (e) {
        if (!(e instanceof ApiError) || e.status !== 0) throw e;
        reservation = await this.api.claim(deal.deal_id, variantId, quantity, pin?.pin_id ?? null, key);
      }
      this.reservations.set(deal.deal_id, reservation);
      await this.reservedToCart(deal, reservation);
    } catch (e) {
      const code = e instanceof ApiError ? e.code : "unknown";
      const details = e instanceof ApiError ? (e.details as { waitlist?: boolean } | null) : null;
      if (code === "sold_out") deal.units_left = 0;
      this.refusals.set(deal.deal_id, { code, text: shopperMessage(e), waitlist: details?.waitlist === true });
    } finally {
      this.busy.delete(deal.deal_id);
      this.requestUpdate();
    }
  }

  private async reservedToCart(deal: Deal, r: Reservation): Promise<void> {
    const p = this.product(deal.product_id);
    const doc = this.model.doc;
    if (!doc) return;
    await this.putInCart({
      show_id: doc.id,
      product_id: r.product_id,
      variant_id: r.variant_id,
      sku: p?.variants.find((v) => v.id === r.variant_id)?.sku ?? null,
      quantity: r.quantity,
      price: r.unit_price,
      currency: r.currency,
      reservation_id: r.id,
      deal_id: deal.deal_id,
      reservation_expires_at: r.expires_at,
      pin_id: r.pin_id,
      click_token: this.clicks.get(deal.product_id) ?? null,
      product_url: p?.url ?? null,
      title: p?.title ?? deal.title,
      image_url: p?.images[0]?.url ?? null,
    });
  }

  async joinWaitlist(deal: Deal, variantId: string | null, quantity: number): Promise<void> {
    if (this.busy.has(deal.deal_id)) return;
    this.busy.add(deal.deal_id);
    this.requestUpdate();
    try {
      await this.ensureShopper();
      const place = await this.api.joinWaitlist(deal.deal_id, variantId, quantity);
      this.waitlist.set(deal.deal_id, place);
      this.refusals.delete(deal.deal_id);
    } catch (e) {
      this.refusals.set(deal.deal_id, { code: e instanceof ApiError ? e.code : "unknown", text: shopperMessage(e), waitlist: false });
    } finally {
      this.busy.delete(deal.deal_id);
      this.requestUpdate();
    }
  }

  async leaveWaitlist(deal: Deal): Promise<void> {
    try {
      await this.api.leaveWaitlist(deal.deal_id);
      this.waitlist.delete(deal.deal_id);
    } catch (e) {
      this.say(shopperMessage(e));
    }
    this.requestUpdate();
  }

  private dealEnded(d: DealEndedData): void {
    const place = this.waitlist.get(d.deal_id);
    if (place && d.reason !== "sold_out") this.waitlist.delete(d.deal_id);
  }

  private async granted(g: WaitlistGrantedData): Promise<void> {
    this.waitlist.delete(g.deal_id);
    const deal = this.model.deals.get(g.deal_id);
    try {
      const r = await this.api.reservation(g.reservation_id);
      this.reservations.set(g.deal_id, r);
      this.say(t("deal.waitlist_granted"));
      if (deal) await this.reservedToCart(deal, r);
    } catch (e) {
      this.say(shopperMessage(e));
    }
    this.requestUpdate();
  }

  // -- the floating bubble ------------------------------------------------------------

  bubbleDown(e: PointerEvent): void {
    const rect = this.getBoundingClientRect();
    this.drag = { x: e.clientX, y: e.clientY, left: rect.left, top: rect.top, moved: false };
    (e.currentTarget as HTMLElement).setPointerCapture(e.pointerId);
  }

  bubbleMove(e: PointerEvent): void {
    const d = this.drag;
    if (!d) return;
    const dx = e.clientX - d.x;
    const dy = e.clientY - d.y;
    if (!d.moved && Math.hypot(dx, dy) < 6) return;
    d.moved = true;
    const left = Math.min(Math.max(0, d.left + dx), window.innerWidth - this.offsetWidth);
    const top = Math.min(Math.max(0, d.top + dy), window.innerHeight - this.offsetHeight);
    this.style.left = `${left}px`;
    this.style.top = `${top}px`;
    this.style.right = "auto";
    this.style.bottom = "auto";
  }

  bubbleUp(): void {
    const tapped = this.drag && !this.drag.moved;
    this.drag = null;
    if (tapped) this.expand(true);
  }

  expand(open: boolean): void {
    this.expanded = open;
    if (!open) this.sheet = null;
    this.requestUpdate();
  }
}
