import { css, html } from "lit";
import { api, type Ingest, type Page, type Product, type Session, type Show } from "../shared/api";
import { staffMessage } from "../shared/errors";
import { dateTime } from "../shared/time";
import { StudioElement } from "./element";
import { showStateName, t, withSlots } from "./i18n";
import { properties } from "./properties";
import { shared } from "./styles";
import "./controlroom";
import "./golive";

// State changes only: video goes out from the go-live panel (or OBS).
const NEXT: Record<string, { to: string; label: () => string } | undefined> = {
  scheduled: { to: "live", label: () => t("studio.shows.mark_live") },
  live: { to: "ended", label: () => t("studio.shows.end_show") },
  ended: { to: "replay", label: () => t("studio.shows.publish_replay") },
};

export class StudioShows extends StudioElement {
  static properties = properties(["session"], ["shows", "products", "selected", "ingest", "revealed", "error"]);
  static styles = [
    shared,
    css`
      .grid { display: grid; grid-template-columns: 1fr 1.6fr; gap: 20px; align-items: start; }
      @media (max-width: 800px) { .grid { grid-template-columns: 1fr; } }
      /* a wide table scrolls in its panel rather than widening the page */
      .grid > * { min-width: 0; }
      .show { display: grid; gap: 4px; padding: 12px; border-radius: 10px; cursor: pointer;
        border: 1px solid transparent; }
      .show:hover { background: #faf8f4; }
      .show[aria-selected="true"] { border-color: #1d1b18; background: #faf8f4; }
      form { display: grid; gap: 12px; margin-top: 16px; }
      .row { display: flex; gap: 8px; align-items: center; flex-wrap: wrap; }
      ol { padding-left: 20px; margin: 8px 0; }
      .section { margin-top: 20px; }
    `,
  ];
  session!: Session;
  shows: Show[] = [];
  products = new Map<string, Product>();
  selected: Show | null = null;
  ingest: Ingest | null = null;
  revealed = false;
  error = "";

  connectedCallback(): void {
    super.connectedCallback();
    void this.load();
  }

  private fail(e: unknown): void {
    this.error = staffMessage(e);
  }

  private async load(): Promise<void> {
    try {
      const [shows, products] = await Promise.all([
        api<Page<Show>>("GET", "/api/v1/shows?limit=100"),
        api<Page<Product>>("GET", "/api/v1/products?limit=100"),
      ]);
      this.shows = shows.data.reverse();
      this.products = new Map(products.data.map((p) => [p.id, p]));
      if (!this.selected && this.shows.length) this.select(this.shows[0]);
    } catch (e) {
      this.fail(e);
    }
  }

  private select(show: Show): void {
    this.selected = show;
    this.ingest = null;
    this.revealed = false;
  }

  private when(iso: string | null): string {
    return iso ? dateTime(iso) : t("studio.shows.not_scheduled");
  }

  private replace(show: Show): void {
    this.shows = this.shows.map((s) => (s.id === show.id ? show : s));
    if (!this.selected || this.selected.id === show.id) this.selected = show;
  }

  private async create(e: SubmitEvent): Promise<void> {
    e.preventDefault();
    const form = e.target as HTMLFormElement;
    const data = new FormData(form);
    const when = String(data.get("scheduled_at") ?? "");
    try {
      const show = await api<Show>("POST", "/api/v1/shows", {
        title: String(data.get("title") ?? ""),
        scheduled_at: when ? new Date(when).toISOString() : null,
      });
      form.reset();
      this.shows = [show, ...this.shows];
      this.select(show);
      this.error = "";
    } catch (err) {
      this.fail(err);
    }
  }

  private async advance(show: Show, to: string): Promise<void> {
    try {
      this.replace(await api<Show>("POST", `/api/v1/shows/${show.id}/transitions`, { to }));
      this.error = "";
    } catch (e) {
      this.fail(e);
    }
  }

  private async loadIngest(rotate: boolean): Promise<void> {
    if (!this.selected) return;
    try {
      const path = `/api/v1/shows/${this.selected.id}/ingest`;
      this.ingest = rotate ? await api<Ingest>("POST", `${path}/rotate`) : await api<Ingest>("GET", path);
      this.revealed = rotate;
      this.error = "";
    } catch (e) {
      this.fail(e);
    }
  }

  private renderDetail(show: Show) {
    const next = NEXT[show.state];
    const canIngest = ["owner", "host"].includes(this.session.user.role);
    return html`<div class="card">
      <div class="row"><h2 style="flex:1;margin:0">${show.title}</h2>
        <span class="pill ${show.state}">${showStateName(show.state)}</span></div>
      <p class="muted">${this.when(show.scheduled_at)}</p>
      ${show.description ? html`<p>${show.description}</p>` : ""}
      ${next
        ? html`<div class="row">
            <button class=${show.state === "scheduled" ? "secondary" : ""} @click=${() => this.advance(show, next.to)}>
              ${next.label()}</button>
            ${show.state === "scheduled" && canIngest
              ? html`<span class="muted">${withSlots(t("studio.shows.state_only"), {
                  browser: html`<em>${t("studio.golive.title")}</em>`,
                })}</span>`
              : ""}
          </div>`
        : ""}
      <studio-control-room .show=${show} .session=${this.session} .products=${this.products}
        @show-changed=${(e: CustomEvent<Show>) => this.replace(e.detail)}></studio-control-room>
      ${canIngest
        ? html`<studio-go-live .show=${show} .session=${this.session}
              @show-changed=${(e: CustomEvent<Show>) => this.replace(e.detail)}></studio-go-live>
          <div class="section">
            <h3>${t("studio.obs.title")}</h3>
            ${this.ingest
              ? html`<p class="muted">${t("studio.obs.howto")}</p>
                  <p>${t("studio.obs.server")} <code>${this.ingest.whip_url}</code></p>
                  <p>${t("studio.obs.token")}
                    <code>${this.revealed ? this.ingest.stream_key : "•".repeat(24)}</code>
                  </p>
                  <div class="row">
                    <button class="secondary" @click=${() => (this.revealed = !this.revealed)}>
                      ${this.revealed ? t("studio.obs.hide") : t("studio.obs.reveal")}</button>
                    <button class="secondary" @click=${() => navigator.clipboard?.writeText(this.ingest!.stream_key)}>
                      ${t("studio.obs.copy_key")}</button>
                    <button class="danger" @click=${() => this.loadIngest(true)}>${t("studio.obs.rotate_key")}</button>
                  </div>`
              : html`<button class="secondary" @click=${() => this.loadIngest(false)}>
                  ${t("studio.obs.show_settings")}</button>`}
          </div>`
        : ""}
    </div>`;
  }

  render() {
    return html`
      ${this.error ? html`<p class="error" role="alert">${this.error}</p>` : ""}
      <div class="grid">
        <div class="card">
          <h2>${t("studio.shows.title")}</h2>
          ${this.shows.map(
            (s) => html`<div class="show" role="option" aria-selected=${this.selected?.id === s.id}
                @click=${() => this.select(s)}>
                <div class="row"><strong style="flex:1">${s.title}</strong><span class="pill ${s.state}">${showStateName(s.state)}</span></div>
                <span class="muted">${this.when(s.scheduled_at)}</span>
              </div>`,
          )}
          ${this.shows.length === 0 ? html`<p class="muted">${t("studio.shows.empty")}</p>` : ""}
          <form @submit=${this.create}>
            <h3>${t("studio.shows.new")}</h3>
            <label>${t("studio.shows.show_title")} <input name="title" required maxlength="200" /></label>
            <label>${t("studio.shows.starts_at")} <input name="scheduled_at" type="datetime-local" /></label>
            <button type="submit">${t("studio.shows.schedule")}</button>
          </form>
        </div>
        ${this.selected ? this.renderDetail(this.selected) : html`<div></div>`}
      </div>
    `;
  }
}
customElements.define("studio-shows", StudioShows);
