import { css, html, nothing } from "lit";
import { api, type Pin, type Product, type Session, type Show } from "../../shared/api";
import { staffMessage } from "../../shared/errors";
import { StudioElement } from "../element";
import { count, money, t } from "../i18n";
import { properties } from "../properties";
import { shared } from "../styles";
import { isActive, type RoomFeed } from "./feed";
import { panel } from "./styles";

// The control room's line-up panel: the show's products in order, and which of
// them are pinned on screen (pin and unpin them here).

const MAX_PINS = 3;

export class StudioLineupPanel extends StudioElement {
  static properties = properties(["show", "session", "products", "pins", "feed"], ["pinError", "busy"]);
  static styles = [
    shared,
    panel,
    css`
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
    `,
  ];

  show!: Show;
  session!: Session;
  products = new Map<string, Product>();
  /** product id → the id of its pin on screen now */
  pins = new Map<string, string>();
  feed!: RoomFeed;
  pinError = "";
  /** product ids whose pin request is under way */
  busy = new Set<string>();

  protected willUpdate(changed: Map<PropertyKey, unknown>): void {
    const before = changed.get("show") as Show | undefined;
    if (changed.has("show") && before?.id !== this.show.id) {
      this.pinError = "";
      this.busy = new Set();
    }
  }

  private async togglePin(productId: string): Promise<void> {
    const showId = this.show.id;
    const pinId = this.pins.get(productId);
    this.busy = new Set(this.busy).add(productId);
    try {
      if (pinId) {
        await api("DELETE", `/api/v1/shows/${showId}/pins/${pinId}`);
        this.feed.unpinned(showId, productId, pinId);
      } else {
        const pin = await api<Pin>("POST", `/api/v1/shows/${showId}/pins`, { product_id: productId });
        this.feed.pinned(showId, productId, pin.id);
      }
      this.pinError = "";
    } catch (e) {
      if (this.show.id === showId) {
        const title = this.products.get(productId)?.title ?? productId;
        const error = staffMessage(e);
        this.pinError = pinId ? t("studio.lineup.unpin_failed", { title, error }) : t("studio.lineup.pin_failed", { title, error });
      }
    } finally {
      const busy = new Set(this.busy);
      busy.delete(productId);
      this.busy = busy;
    }
  }

  render() {
    const active = isActive(this.show);
    const pinnable = this.session.scopes.includes("shows:write") && active;
    return html`<div class="section">
      <div class="head">
        <h3>${t("studio.lineup.title_count", { n: this.show.lineup.length })}</h3>
        ${active
          ? html`<span class="muted" aria-live="polite">${t("studio.lineup.on_screen_count", { n: this.pins.size, max: MAX_PINS })}</span>`
          : nothing}
      </div>
      ${this.pinError ? html`<p class="error" role="alert">${this.pinError}</p>` : nothing}
      <ol class="lineup" aria-label=${t("studio.lineup.title")}>
        ${this.show.lineup.map((item, i) => {
          const product = this.products.get(item.product_id);
          const title = product?.title ?? item.product_id;
          const pinned = this.pins.has(item.product_id);
          const variant = product?.variants[0];
          return html`<li class=${pinned ? "pinned" : ""}>
            <span class="pos">${count(i + 1)}</span>
            ${product?.images[0]
              ? html`<img class="thumb" src=${product.images[0].url} alt="" loading="lazy" />`
              : html`<span class="thumb"></span>`}
            <span class="what">
              <span class="title">${title}</span>
              ${product && variant
                ? html`<span class="muted">${money(variant.price, product.currency)}${product.variants.length > 1
                    ? ` · ${t("studio.lineup.variants", { n: product.variants.length })}`
                    : ""}</span>`
                : nothing}
            </span>
            ${pinned ? html`<span class="pill onscreen">${t("studio.lineup.on_screen")}</span>` : nothing}
            ${pinnable
              ? html`<button class=${pinned ? "secondary" : ""} ?disabled=${this.busy.has(item.product_id)}
                  aria-label=${pinned ? t("studio.lineup.unpin_label", { title }) : t("studio.lineup.pin_label", { title })}
                  @click=${() => this.togglePin(item.product_id)}>${pinned ? t("studio.lineup.unpin") : t("studio.lineup.pin")}</button>`
              : nothing}
          </li>`;
        })}
      </ol>
    </div>`;
  }
}
customElements.define("studio-lineup-panel", StudioLineupPanel);
