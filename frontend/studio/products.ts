import { css, html } from "lit";
import { api, type Page, type Product, type Session } from "../shared/api";
import { staffMessage } from "../shared/errors";
import { StudioElement } from "./element";
import { count, money, t, withSlots } from "./i18n";
import { properties } from "./properties";
import { shared } from "./styles";

// Not words: the command line that fills an empty catalogue.
const IMPORT_COMMAND = "pasar catalog import FILE --vendor";

function priceRange(p: Product): string {
  const prices = p.variants.map((v) => v.price);
  const lo = Math.min(...prices);
  const hi = Math.max(...prices);
  const fmt = (n: number) => money(n, p.currency);
  return lo === hi ? fmt(lo) : `${fmt(lo)} – ${fmt(hi)}`;
}

function statusName(status: string): string {
  switch (status) {
    case "active":
      return t("studio.products.status_active");
    case "draft":
      return t("studio.products.status_draft");
    case "archived":
      return t("studio.products.status_archived");
    default:
      return status;
  }
}

export class StudioProducts extends StudioElement {
  static properties = properties(["session"], ["products", "cursor", "error", "q"]);
  static styles = [
    shared,
    css`
      .bar { display: flex; gap: 12px; align-items: center; margin-bottom: 16px; }
      .bar input { max-width: 320px; }
      img { width: 48px; height: 48px; object-fit: cover; border-radius: 8px; background: #eee; }
      .more { margin-top: 16px; }
      /* a phone: the table scrolls inside its card */
      .scroll { overflow-x: auto; }
    `,
  ];
  session!: Session;
  products: Product[] = [];
  cursor: string | null = null;
  error = "";
  q = "";

  connectedCallback(): void {
    super.connectedCallback();
    void this.load(true);
  }

  private async load(reset: boolean): Promise<void> {
    const params = new URLSearchParams({ limit: "50" });
    if (this.q) params.set("q", this.q);
    if (!reset && this.cursor) params.set("cursor", this.cursor);
    try {
      const page = await api<Page<Product>>("GET", `/api/v1/products?${params}`);
      this.products = reset ? page.data : [...this.products, ...page.data];
      this.cursor = page.next_cursor;
      this.error = "";
    } catch (e) {
      this.error = staffMessage(e);
    }
  }

  render() {
    return html`
      <div class="bar">
        <h2 style="flex:1;margin:0">${t("studio.products.title")}</h2>
        <input
          type="search"
          placeholder=${t("studio.products.search")}
          .value=${this.q}
          @change=${(e: Event) => {
            this.q = (e.target as HTMLInputElement).value;
            void this.load(true);
          }}
        />
      </div>
      ${this.error ? html`<p class="error">${this.error}</p>` : ""}
      <div class="card">
        <div class="scroll"><table>
          <thead><tr><th></th><th>${t("studio.products.product")}</th><th>${t("studio.products.variants")}</th>
            <th>${t("studio.products.price")}</th><th>${t("studio.products.stock")}</th>
            <th>${t("studio.products.status")}</th></tr></thead>
          <tbody>
            ${this.products.map(
              (p) => html`<tr>
                <td>${p.images[0] ? html`<img src=${p.images[0].url} alt=${p.images[0].alt} />` : html`<img alt="" />`}</td>
                <td>${p.title}</td>
                <td>${count(p.variants.length)}</td>
                <td>${priceRange(p)}</td>
                <td>${count(p.variants.reduce((n, v) => n + v.stock, 0))}</td>
                <td><span class="pill">${statusName(p.status)}</span></td>
              </tr>`,
            )}
          </tbody>
        </table></div>
        ${this.products.length === 0 && !this.error
          ? html`<p class="muted">${withSlots(t("studio.products.empty"), {
              command: html`<code>${IMPORT_COMMAND} ${this.session.vendor.slug}</code>`,
            })}</p>`
          : ""}
        ${this.cursor ? html`<button class="secondary more" @click=${() => this.load(false)}>${t("studio.products.more")}</button>` : ""}
      </div>
    `;
  }
}
customElements.define("studio-products", StudioProducts);
