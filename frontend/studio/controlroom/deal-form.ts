import { css, html, nothing } from "lit";
import { live } from "lit/directives/live.js";
import { api, type Deal, type Product, type Session, type Show } from "../../shared/api";
import { staffMessage } from "../../shared/errors";
import { exponent, toMajorInput, toMinor } from "../../shared/money";
import { StudioElement } from "../element";
import { money, t } from "../i18n";
import { properties } from "../properties";
import { shared } from "../styles";
import type { RoomFeed } from "./feed";

// The control room's form for the next flash deal: a product of the line-up,
// some of its variants, the price, quantity and limits, now or after a countdown.

const MAX_UNITS = 1_000_000;

function randomKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export class StudioDealForm extends StudioElement {
  static properties = properties(
    ["show", "session", "products", "feed"],
    ["error", "note", "submitting", "productId", "variantIds", "price", "startLater"],
  );
  static styles = [
    shared,
    css`
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
  feed!: RoomFeed;
  error = "";
  note = "";
  submitting = false;
  productId = "";
  variantIds = new Set<string>();
  price = "";
  startLater = false;

  /** one per deal: a retry of the same submission cannot start a second deal */
  private dealKey = randomKey();

  protected willUpdate(changed: Map<PropertyKey, unknown>): void {
    const before = changed.get("show") as Show | undefined;
    if (changed.has("show") && before?.id !== this.show.id) {
      this.error = this.note = "";
      this.pickProduct(this.show.lineup[0]?.product_id ?? "");
      this.dealKey = randomKey();
    }
    if (changed.has("products") && !this.price) this.pickProduct(this.productId);
  }

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

  private async startDeal(e: SubmitEvent): Promise<void> {
    e.preventDefault();
    const form = e.target as HTMLFormElement;
    const data = new FormData(form);
    const product = this.products.get(this.productId);
    this.note = "";
    if (!product) {
      this.error = t("studio.deal.pick_product");
      return;
    }
    const variants = product.variants.filter((v) => this.variantIds.has(v.id)).map((v) => v.id);
    if (variants.length === 0) {
      this.error = t("studio.deal.pick_variant");
      return;
    }
    const price = toMinor(this.price, product.currency);
    if (price === null) {
      const digits = exponent(product.currency);
      this.error = digits
        ? t("studio.deal.price_decimals", {
            currency: product.currency,
            n: digits,
            example: toMajorInput(12345, product.currency),
          })
        : t("studio.deal.price_whole", { currency: product.currency });
      return;
    }
    const quantity = Number(data.get("quantity"));
    const limit = Number(data.get("per_shopper_limit"));
    if (limit > quantity) {
      this.error = t("studio.deal.limit_above_quantity");
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
      this.feed.dealStarted(deal);
      this.error = "";
      this.note = deal.status === "upcoming" ? t("studio.deal.countdown_started") : t("studio.deal.started");
      const titleInput = form.querySelector<HTMLInputElement>("input[name=title]");
      if (titleInput) titleInput.value = "";
    } catch (err) {
      this.error = staffMessage(err);
    } finally {
      this.submitting = false;
    }
  }

  render() {
    const products = this.lineupProducts;
    const product = this.products.get(this.productId);
    const currency = product?.currency ?? this.session.vendor.default_currency;
    const digits = exponent(currency);
    const minor = toMinor(this.price, currency);
    const base = product?.variants.find((v) => this.variantIds.has(v.id))?.price;
    const off = minor !== null && base ? Math.round(100 - (100 * minor) / base) : 0;
    let hint = "";
    if (this.price && minor === null) {
      hint = digits ? t("studio.deal.hint_decimals", { n: digits }) : t("studio.deal.hint_whole");
    } else if (minor !== null) {
      hint = money(minor, currency) + (off > 0 ? ` · ${t("studio.deal.percent_off", { n: off })}` : "");
    }
    return html`<form class="deal" @submit=${this.startDeal} aria-label=${t("studio.deal.new")}>
      <h4>${t("studio.deal.new")}</h4>
      <div class="fields">
        <label class="wide">${t("studio.deal.product")}
          <select name="product_id" @change=${(e: Event) => this.pickProduct((e.target as HTMLSelectElement).value)}>
            ${products.map(
              (p) => html`<option value=${p.id} ?selected=${p.id === this.productId}>${p.title}</option>`,
            )}
          </select>
        </label>
        ${product && product.variants.length > 1
          ? html`<fieldset class="wide">
              <legend>${t("studio.deal.variants")}</legend>
              ${product.variants.map(
                (v) => html`<label class="check"><input type="checkbox" name="variant"
                    .checked=${this.variantIds.has(v.id)}
                    @change=${(e: Event) => this.toggleVariant(v.id, (e.target as HTMLInputElement).checked)} />
                  ${v.title || v.sku || v.id}</label>`,
              )}
            </fieldset>`
          : nothing}
        <label class="wide">${t("studio.deal.title")}
          <input name="title" maxlength="200" placeholder=${product?.title ?? ""} />
        </label>
        <label>${t("studio.deal.price", { currency })}
          <input name="price" type="number" inputmode="decimal" min="0" required
            step=${digits ? (1 / 10 ** digits).toFixed(digits) : "1"}
            .value=${live(this.price)} @input=${(e: Event) => (this.price = (e.target as HTMLInputElement).value)} />
          <span class="hint" aria-live="polite">${hint}</span>
        </label>
        <label>${t("studio.deal.quantity")}
          <input name="quantity" type="number" min="1" max=${MAX_UNITS} step="1" value="50" required />
        </label>
        <label>${t("studio.deal.limit")}
          <input name="per_shopper_limit" type="number" min="1" max=${MAX_UNITS} step="1" value="2" required />
        </label>
        <label>${t("studio.deal.duration")}
          <input name="duration_minutes" type="number" min="1" max="10080" step="1" value="10" required />
        </label>
        <fieldset class="wide start">
          <legend>${t("studio.deal.start")}</legend>
          <label class="check"><input type="radio" name="start" .checked=${!this.startLater}
            @change=${() => (this.startLater = false)} /> ${t("studio.deal.now")}</label>
          <label class="check"><input type="radio" name="start" .checked=${this.startLater}
            @change=${() => (this.startLater = true)} /> ${t("studio.deal.after_countdown")}</label>
          <input name="starts_in_seconds" type="number" min="0" max="86400" step="1" value="10"
            aria-label=${t("studio.deal.countdown_seconds")} ?disabled=${!this.startLater} />
          <span>${t("studio.deal.seconds")}</span>
        </fieldset>
        <label>${t("studio.deal.guest_hold")}
          <input name="guest_hold_minutes" type="number" min="0.5" max="1440" step="0.5"
            placeholder=${t("studio.deal.guest_hold_default")} />
          <span class="hint">${t("studio.deal.guest_hold_hint")}</span>
        </label>
        <label class="check wide"><input type="checkbox" name="signed_in_only" />
          ${t("studio.deal.signed_in_only")}</label>
      </div>
      ${this.error ? html`<p class="error" role="alert">${this.error}</p>` : nothing}
      <div class="actions-row">
        <button type="submit" ?disabled=${this.submitting || !product}>
          ${this.startLater ? t("studio.deal.start_countdown") : t("studio.deal.start_deal")}</button>
        ${this.note ? html`<span class="ok" role="status">${this.note}</span>` : nothing}
      </div>
    </form>`;
  }
}
customElements.define("studio-deal-form", StudioDealForm);
