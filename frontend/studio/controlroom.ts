import { LitElement, css, html } from "lit";
import type { Product, Session, Show } from "../shared/api";
import "./controlroom/deals";
import { RoomFeed, isActive } from "./controlroom/feed";
import "./controlroom/lineup";
import { properties } from "./properties";

// The show's control room: what is pinned on screen (controlroom/lineup.ts), and
// its flash deals (controlroom/deals.ts, with the form in deal-form.ts), their
// numbers live from the show socket (controlroom/feed.ts).

export class StudioControlRoom extends LitElement {
  static properties = properties(["show", "session", "products"], ["now"]);
  static styles = css`:host { display: block; }`;

  show!: Show;
  session!: Session;
  products = new Map<string, Product>();
  now = Date.now();

  private ticker: number | undefined;
  private readonly feed = new RoomFeed(
    () => this.requestUpdate(),
    (show) => this.dispatchEvent(new CustomEvent<Show>("show-changed", { detail: show, bubbles: true, composed: true })),
  );

  connectedCallback(): void {
    super.connectedCallback();
    this.ticker = window.setInterval(() => {
      if (this.feed.tick()) this.now = Date.now(); // countdowns
    }, 1000);
    // the first update attaches; this is for an element moved back into the page
    if (this.hasUpdated) this.feed.attach();
  }

  disconnectedCallback(): void {
    super.disconnectedCallback();
    window.clearInterval(this.ticker);
    this.feed.detach();
  }

  protected willUpdate(changed: Map<PropertyKey, unknown>): void {
    if (!changed.has("show")) return;
    const before = changed.get("show") as Show | undefined;
    if (!before || before.id !== this.show.id || isActive(before) !== isActive(this.show)) this.feed.follow(this.show);
  }

  render() {
    const feed = this.feed;
    return html`<studio-lineup-panel .show=${this.show} .session=${this.session} .products=${this.products}
        .pins=${feed.pins} .feed=${feed}></studio-lineup-panel>
      <studio-deals-panel .show=${this.show} .session=${this.session} .products=${this.products}
        .deals=${feed.deals} .left=${feed.left} .linked=${feed.linked} .loadError=${feed.loadError}
        .now=${this.now} .feed=${feed}></studio-deals-panel>`;
  }
}
customElements.define("studio-control-room", StudioControlRoom);
