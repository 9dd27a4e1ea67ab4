import { css, html, nothing } from "lit";
import { api, type Deal, type Product, type Session, type Show } from "../../shared/api";
import { staffMessage } from "../../shared/errors";
import { countdown } from "../../shared/time";
import { StudioElement } from "../element";
import { count, money, t } from "../i18n";
import { properties } from "../properties";
import { shared } from "../styles";
import "./deal-form";
import { type DealStatus, POLL_MS, type RoomFeed, dealStatus, isActive } from "./feed";
import { panel } from "./styles";

// The control room's deals panel: the show's flash deals with their numbers
// live (units left, held, sold, countdowns), ending or cancelling one, and the
// form that starts the next.

function statusName(status: DealStatus): string {
  switch (status) {
    case "upcoming":
      return t("studio.deals.status_upcoming");
    case "live":
      return t("studio.deals.status_live");
    default:
      return t("studio.deals.status_ended");
  }
}

function reasonName(reason: string): string {
  switch (reason) {
    case "sold_out":
      return t("studio.deals.sold_out");
    case "cancelled":
      return t("studio.deals.cancelled");
    case "ended":
      return t("studio.deals.ended");
    default:
      return "";
  }
}

export class StudioDealsPanel extends StudioElement {
  static properties = properties(
    ["show", "session", "products", "deals", "left", "linked", "loadError", "now", "feed"],
    ["dealError"],
  );
  static styles = [
    shared,
    panel,
    css`
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
      /* a phone: the table scrolls inside the panel, the page does not */
      .scroll { overflow-x: auto; }
    `,
  ];

  show!: Show;
  session!: Session;
  products = new Map<string, Product>();
  /** newest first */
  deals: Deal[] = [];
  /** units left from deal.updated (the stock engine's own count) */
  left = new Map<string, number>();
  /** the socket is up: numbers arrive as they change */
  linked = false;
  loadError = "";
  now = Date.now();
  feed!: RoomFeed;
  /** ending or cancelling a deal was refused */
  dealError = "";

  private get canRun(): boolean {
    return this.session.scopes.includes("shows:write");
  }

  protected willUpdate(changed: Map<PropertyKey, unknown>): void {
    const before = changed.get("show") as Show | undefined;
    if (changed.has("show") && before?.id !== this.show.id) this.dealError = "";
  }

  /** Live deals first, then upcoming, then ended; newest first within each. */
  private sortedDeals(): Deal[] {
    const rank: Record<DealStatus, number> = { live: 0, upcoming: 1, ended: 2 };
    return [...this.deals].sort((a, b) => rank[dealStatus(a, this.now)] - rank[dealStatus(b, this.now)]);
  }

  private async endDeal(deal: Deal, reason: "ended" | "cancelled"): Promise<void> {
    if (
      reason === "cancelled" &&
      !confirm(t("studio.deals.confirm_cancel", { title: deal.title }))
    )
      return;
    try {
      this.feed.dealEnded(await api<Deal>("POST", `/api/v1/deals/${deal.id}/end`, { reason }));
      this.dealError = "";
    } catch (e) {
      this.dealError = staffMessage(e);
      this.feed.refresh();
    }
  }

  private renderDeal(deal: Deal) {
    const status = dealStatus(deal, this.now);
    const left = this.left.get(deal.id) ?? deal.units_left;
    const q = deal.quantity || 1;
    let when = "";
    if (status === "upcoming") when = t("studio.deals.starts_in", { t: countdown(Date.parse(deal.starts_at) - this.now) });
    else if (status === "live") {
      when = left === 0 ? t("studio.deals.sold_out") : t("studio.deals.ends_in", { t: countdown(Date.parse(deal.ends_at) - this.now) });
    } else if (deal.end_reason) when = reasonName(deal.end_reason);
    const terms = [
      money(deal.price, deal.currency),
      t("studio.deals.per_shopper", { n: deal.per_shopper_limit }),
      ...(deal.signed_in_only ? [t("studio.deals.signed_in_only")] : []),
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
      <td class="status"><span class="pill ${status}">${statusName(status)}</span><div class="muted">${when}</div></td>
      <td class="num left" data-units-left=${left}>${count(left)}<small> / ${count(deal.quantity)}</small></td>
      <td class="num" data-held=${deal.held}>${count(deal.held)}</td>
      <td class="num" data-sold=${deal.sold}>${count(deal.sold)}</td>
      <td class="actions">
        ${status !== "ended" && this.canRun
          ? html`<button class="secondary" @click=${() => this.endDeal(deal, "ended")}
                aria-label=${t("studio.deals.end_label", { title: deal.title })}>${t("studio.deals.end")}</button>
              <button class="danger" @click=${() => this.endDeal(deal, "cancelled")}
                aria-label=${t("studio.deals.cancel_label", { title: deal.title })}>${t("studio.deals.cancel")}</button>`
          : nothing}
      </td>
    </tr>`;
  }

  render() {
    const active = isActive(this.show);
    return html`<div class="section">
      <div class="head">
        <h3>${t("studio.deals.title")}</h3>
        ${active
          ? html`<span class="feed ${this.linked ? "on" : ""}" data-linked=${this.linked}>
              ${this.linked ? t("studio.deals.live_numbers") : t("studio.deals.polling", { n: POLL_MS / 1000 })}</span>`
          : nothing}
      </div>
      ${this.loadError ? html`<p class="error" role="alert">${this.loadError}</p>` : nothing}
      ${this.deals.length
        ? html`<div class="scroll"><table class="deals" aria-label=${t("studio.deals.title")}>
            <thead><tr><th>${t("studio.deals.deal")}</th><th>${t("studio.deals.status")}</th>
              <th class="num">${t("studio.deals.left")}</th><th class="num">${t("studio.deals.held")}</th>
              <th class="num">${t("studio.deals.sold")}</th><th></th></tr></thead>
            <tbody>${this.sortedDeals().map((d) => this.renderDeal(d))}</tbody>
          </table></div>`
        : html`<p class="muted">${t("studio.deals.empty")}</p>`}
      ${this.dealError ? html`<p class="error" role="alert">${this.dealError}</p>` : nothing}
      ${this.canRun && active
        ? this.show.lineup.length
          ? html`<studio-deal-form .show=${this.show} .session=${this.session} .products=${this.products}
              .feed=${this.feed}></studio-deal-form>`
          : html`<p class="muted">${t("studio.deals.needs_lineup")}</p>`
        : nothing}
    </div>`;
  }
}
customElements.define("studio-deals-panel", StudioDealsPanel);
