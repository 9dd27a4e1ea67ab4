// What the control room knows about its show's pins and deals: fetched over the
// REST API, kept live by the show socket (staff connect with the session cookie),
// polled while the socket is down. Plain data and one `changed` callback; the
// room and its panels render it, and the panels report their own changes here.

import { api, type Deal, type Pin, type Show } from "../../shared/api";
import { staffMessage } from "../../shared/errors";
import type { Envelope, ServerEvents } from "../../shared/events";
import { ShowSocket } from "../../shared/socket";
import { t } from "../i18n";

/** Without the socket: poll pins and deals this often. */
export const POLL_MS = 2000;
/** With the socket, while a deal runs: held and sold (not in deal.updated) this often. */
const REFRESH_MS = 5000;
/** After deal.updated: fetch held and sold once the burst has passed. */
const SETTLE_MS = 600;
const ACTIVE_STATES = ["scheduled", "live"];

export type DealStatus = Deal["status"];

export function isActive(show: Show): boolean {
  return ACTIVE_STATES.includes(show.state);
}

export function dealStatus(deal: Deal, now: number): DealStatus {
  if (deal.status === "ended") return "ended";
  if (now >= Date.parse(deal.ends_at)) return "ended";
  return now < Date.parse(deal.starts_at) ? "upcoming" : "live";
}

export class RoomFeed {
  /** product id → the id of its pin on screen now */
  pins = new Map<string, string>();
  /** newest first */
  deals: Deal[] = [];
  /** units left from deal.updated (the stock engine's own count) */
  left = new Map<string, number>();
  /** the socket is up: numbers arrive as they change */
  linked = false;
  /** the last refresh failed (cleared by the next that works) */
  loadError = "";

  private show: Show | null = null;
  private socket: ShowSocket | null = null;
  private settle: number | undefined;
  private loadedAt = 0;
  private loading = false;
  private loadAgain = false;
  /** bumped by every change made here or heard on the socket: a refresh that
   * started before one is stale and is done again */
  private version = 0;

  constructor(
    private readonly changed: () => void,
    /** The show itself changed state (heard on the socket): its fresh document. */
    private readonly showChanged: (show: Show) => void,
  ) {}

  /** Follow this show (another one starts afresh), or the same one again after
   * its state changed. */
  follow(show: Show): void {
    if (show.id !== this.show?.id) {
      this.pins = new Map();
      this.deals = [];
      this.left = new Map();
      this.loadError = "";
    }
    this.show = show;
    this.attach();
  }

  /** Connected again (the element came back into the page). */
  attach(): void {
    this.detach();
    if (!this.show) return;
    void this.load();
    if (isActive(this.show)) this.connect(this.show.id);
  }

  detach(): void {
    window.clearTimeout(this.settle);
    const socket = this.socket;
    this.socket = null;
    socket?.stop();
    this.linked = false;
    this.left = new Map();
  }

  /** Once a second: true while a deal runs (its countdown needs drawing); polls
   * while the socket is down, and refreshes held and sold while a deal runs. */
  tick(): boolean {
    if (!this.show) return false;
    const running = this.deals.some((d) => dealStatus(d, Date.now()) !== "ended");
    const since = Date.now() - this.loadedAt;
    if (!this.linked && isActive(this.show) && since >= POLL_MS) void this.load();
    else if (this.linked && running && since >= REFRESH_MS) void this.load();
    return running;
  }

  // -- changes made in the room -----------------------------------------------------

  /** A pin placed from here. */
  pinned(showId: string, productId: string, pinId: string): void {
    if (showId !== this.show?.id) return;
    this.version++;
    this.pins = new Map(this.pins).set(productId, pinId);
    this.changed();
  }

  /** A pin taken down from here. */
  unpinned(showId: string, productId: string, pinId: string): void {
    if (showId !== this.show?.id || this.pins.get(productId) !== pinId) return;
    this.unpin(productId);
    this.changed();
  }

  /** A deal started from here: as the server answered. */
  dealStarted(deal: Deal): void {
    if (deal.show_id !== this.show?.id) return;
    this.version++;
    this.deals = [deal, ...this.deals.filter((d) => d.id !== deal.id)];
    this.changed();
  }

  /** A deal ended from here: as the server answered. */
  dealEnded(deal: Deal): void {
    this.version++;
    this.deals = this.deals.map((d) => (d.id === deal.id ? deal : d));
    const left = new Map(this.left);
    left.delete(deal.id);
    this.left = left;
    this.changed();
  }

  /** Something may be out of date (a refused change): fetch again. */
  refresh(): void {
    void this.load();
  }

  // -- data -----------------------------------------------------------------------

  private async load(): Promise<void> {
    if (!this.show) return;
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
      if (id === this.show.id) this.loadError = t("studio.room.refresh_failed", { error: staffMessage(e) });
    } finally {
      this.loading = false;
    }
    this.changed();
    if (this.loadAgain) {
      this.loadAgain = false;
      void this.load();
    }
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
      if (!linked) this.left = new Map();
      this.linked = linked;
      this.changed();
    });
    socket.start();
  }

  private handle(event: Envelope): void {
    switch (event.type) {
      case "snapshot": {
        const data = event.data as ServerEvents["snapshot"];
        this.left = new Map();
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
        if (this.pins.get(data.product_id) === data.pin_id) this.unpin(data.product_id);
        break;
      }
      case "deal.updated": {
        const data = event.data as ServerEvents["deal.updated"];
        this.left = new Map(this.left).set(data.deal_id, data.units_left);
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
        return;
    }
    this.changed();
  }

  private async refreshShow(): Promise<void> {
    if (!this.show) return;
    try {
      this.showChanged(await api<Show>("GET", `/api/v1/shows/${this.show.id}`));
    } catch {
      // the next poll tells
    }
  }

  private unpin(productId: string): void {
    this.version++;
    const pins = new Map(this.pins);
    pins.delete(productId);
    this.pins = pins;
  }
}
