import { LitElement, css, html, nothing } from "lit";
import { live } from "lit/directives/live.js";
import { api, type Deal, type Pin, type Product, type Session, type Show } from "../shared/api";
import { staffMessage } from "../shared/errors";
import type { Envelope, ServerEvents } from "../shared/events";
import { exponent, formatMoney, toMajorInput, toMinor } from "../shared/money";
import { ShowSocket } from "../shared/socket";
import { shared } from "./styles";

// The show's control room: what is pinned on screen, and its flash deals with
// their numbers live from the show socket (staff connect with the session cookie).

const MAX_PINS = 3;
const MAX_UNITS = 1_000_000;
/** Without the socket: poll pins and deals this often. */
const POLL_MS = 2000;
/** With the socket, while a deal runs: held and sold (not in deal.updated) this often. */
const REFRESH_MS = 5000;
/** After deal.updated: fetch held and sold once the burst has passed. */
const SETTLE_MS = 600;
const ACTIVE_STATES = ["scheduled", "live"];

type Status = Deal["status"];

function randomKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function clock(ms: number): string {
  const s = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${sec}` : `${m}:${sec}`;
}

export class StudioControlRoom extends LitElement {
  static properties = {
    show: { attribute: false },
    session: { attribute: false },
    products: { attribute: false },
    pins: { state: true },
    deals: { state: true },
    pinError: { state: true },
    busy: { state: true },
    linked: { state: true },
    dealError: { state: true },
    loadError: { state: true },
    dealNote: { state: true },
    submitting: { state: true },
    productId: { state: true },
    variantIds: { state: true },
    price: { state: true },
    startLater: { state: true },
    now: { state: true },
  };
  static styles = [
    shared,
    css`
      .section { margin-top: 20px; }
      .head { display: flex; align-items: baseline; gap: 10px; flex-wrap: wrap; margin-bottom: 8px; }
      .head h3 { margin: 0; flex: 1; }
      .lineup { list-style: none; padding: 0; margin: 0; display: grid; gap: 6px; }
      .lineup li { display: flex; align-items: center; gap: 10px; padding: 6px 8px;
        border: 1px solid #eee8de; border-radius: 10px; background: #fff; }
      .lineup li.pinned { border-color: #f0a63c; background: #fff8ec; }
      .lineup .pos { width: 18px; text-align: right; color: #7a7367; font-size: 13px;
        font-variant-numeric: tabular-nums; }
      .thumb { width: 40px; height: 40px; border-radius: 6px; object-fit: cover; background: #ece7dd;
        flex: none; }
      .what { flex: 1; min-width: 0; display: grid; }
      .what .title { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
      .lineup button { padding: 5px 12px; min-width: 72px; }
      .pill.onscreen { background: #f0a63c; color: #1d1b18; }
      .pill.upcoming { background: #f6d8a8; color: #6b4300; }
      .pill.ended { background: #ece7dd; color: #5a544a; }
      .feed { font-size: 13px; color: #7a7367; display: inline-flex; align-items: center; gap: 6px; }
      .feed::before { content: ""; width: 8px; height: 8px; border-radius: 50%; background: #b5ad9f; }
      .feed.on::before { background: #2e7d32; }
      table.deals th, table.deals td { padding: 10px 6px; }
      table.deals th:first-child, table.deals td:first-child { padding-left: 0; }
      table.deals th:last-child, table.deals td:last-child { padding-right: 0; }
      td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
      td.left { font-size: 20px; font-weight: 700; }
      td.left small { font-size: 12px; font-weight: 400; color: #7a7367; }
      td .muted { font-size: 13px; }
      td.status { white-space: nowrap; }
      td.actions { text-align: right; white-space: nowrap; }
      td.actions button { padding: 4px 10px; font-size: 13px; }
      td.actions button + button { margin-left: 4px; }
      tr.ended td { color: #7a7367; }
      .meter { display: flex; height: 4px; border-radius: 2px; overflow: hidden; background: #ece7dd;
        margin-top: 6px; max-width: 220px; }
      .meter .sold { background: #1d1b18; }
      .meter .held { background: #f0a63c; }
      form.deal { display: grid; gap: 12px; margin-top: 12px; padding: 16px; border-radius: 10px;
        background: #faf8f4; border: 1px solid #eee8de; }
      form.deal h4 { margin: 0; font-size: 15px; }
      .fields { display: grid; grid-template-columns: repeat(auto-fill, minmax(125px, 1fr)); gap: 10px 12px;
        align-items: start; }
      .fields label { align-content: start; }
      .wide { grid-column: 1 / -1; }
      fieldset { border: 0; padding: 0; margin: 0; display: flex; flex-wrap: wrap; gap: 6px 14px;
        font-size: 14px; color: #5a544a; }
      legend { padding: 0; margin-bottom: 4px; font-size: 14px; color: #5a544a; }
      label.check { display: inline-flex; align-items: center; gap: 6px; color: #1d1b18; }
      label.check input { width: auto; margin: 0; }
      .start { display: flex; align-items: center; gap: 8px; flex-wrap: wrap; }
      .start input[type="number"] { width: 90px; }
      .hint { font-size: 13px; color: #7a7367; min-height: 1em; }
      .ok { color: #2e7d32; font-size: 14px; }
      .actions-row { display: flex; gap: 10px; align-items: center; flex-wrap: wrap; }
    `,
  ];

  show!: Show;
  session!: Session;
  products = new Map<string, Product>();
  /** product id → the id of its pin on screen now */
  pins = new Map<string, string>();
  deals: Deal[] = [];
  pinError = "";
  /** product ids whose pin request is under way */
  busy = new Set<string>();
  /** the socket is up: numbers arrive as they change */
  linked = false;
  dealError = "";
  /** the last refresh failed (cleared by the next that works) */
  loadError = "";
  dealNote = "";
  submitting = false;
  productId = "";
  variantIds = new Set<string>();
  price = "";
  startLater = false;
  now = Date.now();

  /** units left from deal.updated (the stock engine's own count) */
  private left = new Map<string, number>();
  private socket: ShowSocket | null = null;
  private ticker: number | undefined;
  private settle: number | undefined;
  private loadedAt = 0;
  private loading = false;
  private loadAgain = false;
  private dealKey = randomKey();
  /** bumped by every change made here or heard on the socket: a refresh that
   * started before one is stale and is done again */
  private version = 0;

  private get canRun(): boolean {
    return this.session.scopes.includes("shows:write");
  }

  private get active(): boolean {
    return ACTIVE_STATES.includes(this.show.state);
  }

  connectedCallback(): void {
    super.connectedCallback();
    this.ticker = window.setInterval(() => this.tick(), 1000);
    // the first update attaches; this is for an element moved back into the page
    if (this.hasUpdated) this.attach();
  }

  disconnectedCallback(): void {
    super.disconnectedCallback();
    window.clearInterval(this.ticker);
    window.clearTimeout(this.settle);
    this.detach();
  }

  protected willUpdate(changed: Map<PropertyKey, unknown>): void {
    if (changed.has("show")) {
      const before = changed.get("show") as Show | undefined;
      if (!before || before.id !== this.show.id) {
        this.pins = new Map();
        this.deals = [];
        this.left.clear();
        this.pinError = this.dealError = this.loadError = this.dealNote = "";
        this.busy = new Set();
        this.pickProduct(this.show.lineup[0]?.product_id ?? "");
        this.dealKey = randomKey();
        this.attach();
      } else if (ACTIVE_STATES.includes(before.state) !== this.active) {
        this.attach();
      }
    }
    if (changed.has("products") && !this.price) this.pickProduct(this.productId);
  }

  // -- data -----------------------------------------------------------------------

  private attach(): void {
    this.detach();
    void this.load();
    if (this.active) this.connect(this.show.id);
  }

  private detach(): void {
    const socket = this.socket;
    this.socket = null;
    socket?.stop();
    this.linked = false;
    this.left.clear();
  }

  private async load(): Promise<void> {
    if (this.loading) {
      this.loadAgain = true;
      return;
    }
    const id = this.show.id;
    const version = this.version;
    this.loading = true;
    this.loadedAt = Date.now();
    try {
      const [pins, deals] = await Promise.all([
        api<Pin[]>("GET", `/api/v1/shows/${id}/pins?active=true`),
        api<Deal[]>("GET", `/api/v1/shows/${id}/deals`),
      ]);
      if (id === this.show.id && version !== this.version) {
        this.loadAgain = true;
      } else if (id === this.show.id) {
        this.pins = new Map(pins.map((p) => [p.product_id, p.id]));
        this.deals = deals.reverse(); // newest first
        this.loadError = "";
      }
    } catch (e) {
      if (id === this.show.id) this.loadError = `Could not refresh pins and deals: ${staffMessage(e)}`;
    } finally {
      this.loading = false;
    }
    if (this.loadAgain) {
      this.loadAgain = false;
      void this.load();
    }
  }

  private tick(): void {
    if (!this.show) return;
    const running = this.deals.some((d) => this.status(d) !== "ended");
    if (running) this.now = Date.now(); // countdowns
    const since = Date.now() - this.loadedAt;
    if (!this.linked && this.active && since >= POLL_MS) void this.load();
    else if (this.linked && running && since >= REFRESH_MS) void this.load();
  }

  private loadSoon(ms: number): void {
    window.clearTimeout(this.settle);
    this.settle = window.setTimeout(() => void this.load(), ms);
  }

  // -- the show socket ------------------------------------------------------------

  private connect(showId: string): void {
    // Staff are known by the session cookie: the auth frame carries nothing. The
    // shared client resumes with `since` after a drop (missed pins and deal counts
    // arrive in order) and stops on 4003/4004 (another origin, a deleted show):
    // then this room keeps polling.
    const socket = new ShowSocket({ showId });
    this.socket = socket;
    socket.on("*", (_data, event) => {
      if (this.socket === socket) this.handle(event);
    });
    socket.onStatus((status) => {
      if (this.socket !== socket) return;
      const linked = status === "open";
      if (linked && !this.linked) void this.load(); // what changed while it was down
      if (!linked) this.left.clear();
      this.linked = linked;
    });
    socket.start();
  }

  private handle(event: Envelope): void {
    switch (event.type) {
      case "snapshot": {
        const data = event.data as ServerEvents["snapshot"];
        this.left.clear();
        this.version++;
        this.pins = new Map(data.pinned_products.map((p) => [p.product_id, p.pin_id]));
        void this.load();
        break;
      }
      case "product.pinned": {
        const data = event.data as ServerEvents["product.pinned"];
        this.version++;
        this.pins = new Map(this.pins).set(data.product_id, data.pin_id);
        break;
      }
      case "product.unpinned": {
        const data = event.data as ServerEvents["product.unpinned"];
        if (this.pins.get(data.product_id) === data.pin_id) {
          this.version++;
          const pins = new Map(this.pins);
          pins.delete(data.product_id);
          this.pins = pins;
        }
        break;
      }
      case "deal.updated": {
        const data = event.data as ServerEvents["deal.updated"];
        this.left.set(data.deal_id, data.units_left);
        this.requestUpdate();
        this.loadSoon(SETTLE_MS);
        break;
      }
      case "deal.started":
      case "deal.ended":
        this.loadSoon(0);
        break;
      case "show.state":
        void this.refreshShow();
        break;
      default:
    }
  }

  private async refreshShow(): Promise<void> {
    try {
      const show = await api<Show>("GET", `/api/v1/shows/${this.show.id}`);
      this.dispatchEvent(new CustomEvent<Show>("show-changed", { detail: show, bubbles: true, composed: true }));
    } catch {
      // the next poll tells
    }
  }

  // -- pins -------------------------------------------------------------------------

  private async togglePin(productId: string): Promise<void> {
    const showId = this.show.id;
    const pinId = this.pins.get(productId);
    this.busy = new Set(this.busy).add(productId);
    try {
      if (pinId) {
        await api("DELETE", `/api/v1/shows/${showId}/pins/${pinId}`);
        if (this.show.id === showId && this.pins.get(productId) === pinId) {
          this.version++;
          const pins = new Map(this.pins);
          pins.delete(productId);
          this.pins = pins;
        }
      } else {
        const pin = await api<Pin>("POST", `/api/v1/shows/${showId}/pins`, { product_id: productId });
        if (this.show.id === showId) {
          this.version++;
          this.pins = new Map(this.pins).set(productId, pin.id);
        }
      }
      this.pinError = "";
    } catch (e) {
      if (this.show.id === showId) {
        const title = this.products.get(productId)?.title ?? productId;
        this.pinError = `Could not ${pinId ? "unpin" : "pin"} “${title}”: ${staffMessage(e)}`;
      }
    } finally {
      const busy = new Set(this.busy);
      busy.delete(productId);
      this.busy = busy;
    }
  }

  // -- deals ------------------------------------------------------------------------

  private get lineupProducts(): Product[] {
    return this.show.lineup
      .map((item) => this.products.get(item.product_id))
      .filter((p): p is Product => !!p);
  }

  private pickProduct(productId: string): void {
    this.productId = productId;
    const product = this.products.get(productId);
    this.variantIds = new Set(product?.variants.map((v) => v.id) ?? []);
    const first = product?.variants[0];
    this.price = product && first ? toMajorInput(first.price, product.currency) : "";
  }

  private toggleVariant(id: string, on: boolean): void {
    const ids = new Set(this.variantIds);
    if (on) ids.add(id);
    else ids.delete(id);
    this.variantIds = ids;
  }

  private status(deal: Deal): Status {
    if (deal.status === "ended") return "ended";
    const now = this.now;
    if (now >= Date.parse(deal.ends_at)) return "ended";
    return now < Date.parse(deal.starts_at) ? "upcoming" : "live";
  }

  /** Live deals first, then upcoming, then ended; newest first within each. */
  private sortedDeals(): Deal[] {
    const rank: Record<Status, number> = { live: 0, upcoming: 1, ended: 2 };
    return [...this.deals].sort((a, b) => rank[this.status(a)] - rank[this.status(b)]);
  }

  private unitsLeft(deal: Deal): number {
    return this.left.get(deal.id) ?? deal.units_left;
  }

  private async startDeal(e: SubmitEvent): Promise<void> {
    e.preventDefault();
    const form = e.target as HTMLFormElement;
    const data = new FormData(form);
    const product = this.products.get(this.productId);
    this.dealNote = "";
    if (!product) {
      this.dealError = "Pick a product from the line-up.";
      return;
    }
    const variants = product.variants.filter((v) => this.variantIds.has(v.id)).map((v) => v.id);
    if (variants.length === 0) {
      this.dealError = "Pick at least one variant.";
      return;
    }
    const price = toMinor(this.price, product.currency);
    if (price === null) {
      const digits = exponent(product.currency);
      this.dealError = digits
        ? `Enter the deal price in ${product.currency} with at most ${digits} decimals, e.g. ${toMajorInput(12345, product.currency)}.`
        : `Enter the deal price in whole ${product.currency}, without decimals.`;
      return;
    }
    const quantity = Number(data.get("quantity"));
    const limit = Number(data.get("per_shopper_limit"));
    if (limit > quantity) {
      this.dealError = "The limit per shopper cannot be more than the quantity.";
      return;
    }
    const title = String(data.get("title") ?? "").trim();
    const body: Record<string, unknown> = {
      product_id: product.id,
      variant_ids: variants,
      price,
      currency: product.currency,
      quantity,
      per_shopper_limit: limit,
      signed_in_only: data.get("signed_in_only") === "on",
      duration_seconds: Math.round(Number(data.get("duration_minutes")) * 60),
    };
    if (title) body.title = title;
    const guestHold = String(data.get("guest_hold_minutes") ?? "").trim();
    if (guestHold) body.guest_hold_seconds = Math.round(Number(guestHold) * 60);
    if (this.startLater) body.starts_in_seconds = Number(data.get("starts_in_seconds"));
    this.submitting = true;
    try {
      const deal = await api<Deal>("POST", `/api/v1/shows/${this.show.id}/deals`, body, {
        "Idempotency-Key": this.dealKey,
      });
      this.dealKey = randomKey();
      this.version++;
      this.deals = [deal, ...this.deals.filter((d) => d.id !== deal.id)];
      this.dealError = "";
      this.dealNote = deal.status === "upcoming" ? "Countdown started: viewers see it now." : "The deal is live.";
      const titleInput = form.querySelector<HTMLInputElement>("input[name=title]");
      if (titleInput) titleInput.value = "";
    } catch (err) {
      this.dealError = staffMessage(err);
    } finally {
      this.submitting = false;
    }
  }

  private async endDeal(deal: Deal, reason: "ended" | "cancelled"): Promise<void> {
    if (
      reason === "cancelled" &&
      !confirm(`Cancel “${deal.title}”? Claims stop and every unit held for a shopper is released.`)
    )
      return;
    try {
      const out = await api<Deal>("POST", `/api/v1/deals/${deal.id}/end`, { reason });
      this.version++;
      this.deals = this.deals.map((d) => (d.id === out.id ? out : d));
      this.left.delete(deal.id);
      this.dealError = "";
    } catch (e) {
      this.dealError = staffMessage(e);
      void this.load();
    }
  }

  // -- rendering ----------------------------------------------------------------------

  private money(minor: number, currency: string): string {
    return formatMoney(minor, currency, this.session.vendor.default_locale);
  }

  private renderLineup() {
    const onScreen = this.pins.size;
    const pinnable = this.canRun && this.active;
    return html`<div class="section">
      <div class="head">
        <h3>Line-up (${this.show.lineup.length})</h3>
        ${this.active
          ? html`<span class="muted" aria-live="polite">On screen: ${onScreen} of ${MAX_PINS}</span>`
          : nothing}
      </div>
      ${this.pinError ? html`<p class="error" role="alert">${this.pinError}</p>` : nothing}
      <ol class="lineup" aria-label="Line-up">
        ${this.show.lineup.map((item, i) => {
          const product = this.products.get(item.product_id);
          const title = product?.title ?? item.product_id;
          const pinned = this.pins.has(item.product_id);
          const variant = product?.variants[0];
          return html`<li class=${pinned ? "pinned" : ""}>
            <span class="pos">${i + 1}</span>
            ${product?.images[0]
              ? html`<img class="thumb" src=${product.images[0].url} alt="" loading="lazy" />`
              : html`<span class="thumb"></span>`}
            <span class="what">
              <span class="title">${title}</span>
              ${product && variant
                ? html`<span class="muted">${this.money(variant.price, product.currency)}${product.variants.length > 1
                    ? ` · ${product.variants.length} variants`
                    : ""}</span>`
                : nothing}
            </span>
            ${pinned ? html`<span class="pill onscreen">On screen</span>` : nothing}
            ${pinnable
              ? html`<button class=${pinned ? "secondary" : ""} ?disabled=${this.busy.has(item.product_id)}
                  aria-label="${pinned ? "Unpin" : "Pin"} ${title}"
                  @click=${() => this.togglePin(item.product_id)}>${pinned ? "Unpin" : "Pin"}</button>`
              : nothing}
          </li>`;
        })}
      </ol>
    </div>`;
  }

  private renderDeal(deal: Deal) {
    const status = this.status(deal);
    const left = this.unitsLeft(deal);
    const q = deal.quantity || 1;
    let when = "";
    if (status === "upcoming") when = `starts in ${clock(Date.parse(deal.starts_at) - this.now)}`;
    else if (status === "live") when = left === 0 ? "sold out" : `ends in ${clock(Date.parse(deal.ends_at) - this.now)}`;
    else if (deal.end_reason) when = deal.end_reason.replace("_", " ");
    const terms = [
      this.money(deal.price, deal.currency),
      `${deal.per_shopper_limit} per shopper`,
      ...(deal.signed_in_only ? ["signed-in only"] : []),
    ].join(" · ");
    return html`<tr class=${status} data-deal=${deal.id}>
      <td>
        <strong>${deal.title}</strong>
        <div class="muted">${terms}</div>
        <div class="meter" aria-hidden="true">
          <span class="sold" style="width:${(100 * deal.sold) / q}%"></span>
          <span class="held" style="width:${(100 * deal.held) / q}%"></span>
        </div>
      </td>
      <td class="status"><span class="pill ${status}">${status}</span><div class="muted">${when}</div></td>
      <td class="num left" data-units-left=${left}>${left}<small> / ${deal.quantity}</small></td>
      <td class="num" data-held=${deal.held}>${deal.held}</td>
      <td class="num" data-sold=${deal.sold}>${deal.sold}</td>
      <td class="actions">
        ${status !== "ended" && this.canRun
          ? html`<button class="secondary" @click=${() => this.endDeal(deal, "ended")}
                aria-label="End ${deal.title}">End</button>
              <button class="danger" @click=${() => this.endDeal(deal, "cancelled")}
                aria-label="Cancel ${deal.title}">Cancel</button>`
          : nothing}
      </td>
    </tr>`;
  }

  private renderForm() {
    const products = this.lineupProducts;
    const product = this.products.get(this.productId);
    const currency = product?.currency ?? this.session.vendor.default_currency;
    const digits = exponent(currency);
    const minor = toMinor(this.price, currency);
    const base = product?.variants.find((v) => this.variantIds.has(v.id))?.price;
    const off = minor !== null && base ? Math.round(100 - (100 * minor) / base) : 0;
    let hint = "";
    if (this.price && minor === null) hint = digits ? `At most ${digits} decimals.` : "Whole amounts only.";
    else if (minor !== null) hint = this.money(minor, currency) + (off > 0 ? ` · ${off} % off` : "");
    return html`<form class="deal" @submit=${this.startDeal} aria-label="New flash deal">
      <h4>New flash deal</h4>
      <div class="fields">
        <label class="wide">Product
          <select name="product_id" @change=${(e: Event) => this.pickProduct((e.target as HTMLSelectElement).value)}>
            ${products.map(
              (p) => html`<option value=${p.id} ?selected=${p.id === this.productId}>${p.title}</option>`,
            )}
          </select>
        </label>
        ${product && product.variants.length > 1
          ? html`<fieldset class="wide">
              <legend>Variants</legend>
              ${product.variants.map(
                (v) => html`<label class="check"><input type="checkbox" name="variant"
                    .checked=${this.variantIds.has(v.id)}
                    @change=${(e: Event) => this.toggleVariant(v.id, (e.target as HTMLInputElement).checked)} />
                  ${v.title || v.sku || v.id}</label>`,
              )}
            </fieldset>`
          : nothing}
        <label class="wide">Title (optional)
          <input name="title" maxlength="200" placeholder=${product?.title ?? ""} />
        </label>
        <label>Deal price (${currency})
          <input name="price" type="number" inputmode="decimal" min="0" required
            step=${digits ? (1 / 10 ** digits).toFixed(digits) : "1"}
            .value=${live(this.price)} @input=${(e: Event) => (this.price = (e.target as HTMLInputElement).value)} />
          <span class="hint" aria-live="polite">${hint}</span>
        </label>
        <label>Quantity
          <input name="quantity" type="number" min="1" max=${MAX_UNITS} step="1" value="50" required />
        </label>
        <label>Limit per shopper
          <input name="per_shopper_limit" type="number" min="1" max=${MAX_UNITS} step="1" value="2" required />
        </label>
        <label>Duration (minutes)
          <input name="duration_minutes" type="number" min="1" max="10080" step="1" value="10" required />
        </label>
        <fieldset class="wide start">
          <legend>Start</legend>
          <label class="check"><input type="radio" name="start" .checked=${!this.startLater}
            @change=${() => (this.startLater = false)} /> Now</label>
          <label class="check"><input type="radio" name="start" .checked=${this.startLater}
            @change=${() => (this.startLater = true)} /> After a countdown of</label>
          <input name="starts_in_seconds" type="number" min="0" max="86400" step="1" value="10"
            aria-label="Countdown in seconds" ?disabled=${!this.startLater} />
          <span>seconds</span>
        </fieldset>
        <label>Guest hold (minutes)
          <input name="guest_hold_minutes" type="number" min="0.5" max="1440" step="0.5"
            placeholder="as everyone's" />
          <span class="hint">How long a guest's claim keeps its units: shorter for a scarce deal.</span>
        </label>
        <label class="check wide"><input type="checkbox" name="signed_in_only" />
          Signed-in shoppers only (your site vouches for them)</label>
      </div>
      ${this.dealError ? html`<p class="error" role="alert">${this.dealError}</p>` : nothing}
      <div class="actions-row">
        <button type="submit" ?disabled=${this.submitting || !product}>
          ${this.startLater ? "Start countdown" : "Start deal"}</button>
        ${this.dealNote ? html`<span class="ok" role="status">${this.dealNote}</span>` : nothing}
      </div>
    </form>`;
  }

  private renderDeals() {
    return html`<div class="section">
      <div class="head">
        <h3>Flash deals</h3>
        ${this.active
          ? html`<span class="feed ${this.linked ? "on" : ""}" data-linked=${this.linked}>
              ${this.linked ? "Live numbers" : `Updating every ${POLL_MS / 1000} s`}</span>`
          : nothing}
      </div>
      ${this.loadError ? html`<p class="error" role="alert">${this.loadError}</p>` : nothing}
      ${this.deals.length
        ? html`<table class="deals" aria-label="Flash deals">
            <thead><tr><th>Deal</th><th>Status</th><th class="num">Left</th><th class="num">Held</th>
              <th class="num">Sold</th><th></th></tr></thead>
            <tbody>${this.sortedDeals().map((d) => this.renderDeal(d))}</tbody>
          </table>`
        : html`<p class="muted">No deals in this show yet.</p>`}
      ${this.canRun && this.active
        ? this.show.lineup.length
          ? this.renderForm()
          : html`<p class="muted">Add products to the show's line-up to run flash deals on them.</p>`
        : nothing}
      ${!this.active && this.dealError ? html`<p class="error" role="alert">${this.dealError}</p>` : nothing}
    </div>`;
  }

  render() {
    return html`${this.renderLineup()}${this.renderDeals()}`;
  }
}
customElements.define("studio-control-room", StudioControlRoom);
