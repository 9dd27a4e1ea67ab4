// The show socket (docs/realtime.md), one client for the player, the watch page
// and the studio: the `auth` first frame, resume with `?since=<epoch>:<offset>`
// after a drop (the missed events, in order, no snapshot), `reset` + snapshot when
// the server cannot resume, duplicate history events skipped, exponential backoff
// with jitter (capped at 30 s), and an immediate reconnect when the network comes
// back or a phone wakes up (a socket that slept may look open and be dead: it is
// pinged and replaced when nothing answers).

import type { ClientCommand, Envelope, ServerEventType, ServerEvents } from "./events";

const BASE_DELAY_MS = 500;
const MAX_DELAY_MS = 30_000;
/** A woken socket that does not answer a ping within this is replaced. */
const PROBE_MS = 5_000;

export type SocketStatus = "connecting" | "open" | "waiting" | "stopped";
/** Why the socket stopped for good: the show does not exist, or this viewer may not connect. */
export type StopReason = "not_found" | "forbidden";

export interface ShowSocketOptions {
  showId: string;
  /** Pasar's origin, e.g. "https://live.example.com" (default: this page's). */
  origin?: string;
  /** A guest token from an earlier `me.guest_token`, to stay the same guest. */
  guest?: string | null;
  /** A shopper token the vendor's site signs (wins over `guest`). */
  shopper?: string | null;
}

type Handler<T extends ServerEventType> = (data: ServerEvents[T], event: Envelope<T>) => void;

export class ShowSocket {
  status: SocketStatus = "waiting";
  /** The latest guest token (renewed by every snapshot): keep it for next time. */
  guest: string | null;
  shopper: string | null;
  /** Why it stopped, with the server's close reason. */
  stopped: { reason: StopReason; detail: string } | null = null;

  private readonly url: string;
  private started = false;
  private ws: WebSocket | null = null;
  private epoch: string | null = null;
  private offset = -1;
  private attempts = 0;
  private timer: number | undefined;
  private probeTimer: number | undefined;
  private handlers = new Map<string, Set<(data: unknown, event: Envelope) => void>>();
  private statusHandlers = new Set<(status: SocketStatus) => void>();
  private readonly wake = () => this.wakeUp();
  private readonly visible = () => {
    if (document.visibilityState === "visible") this.wakeUp();
  };

  constructor(options: ShowSocketOptions) {
    const origin = new URL(options.origin ?? location.href);
    const scheme = origin.protocol === "https:" ? "wss:" : "ws:";
    this.url = `${scheme}//${origin.host}/ws/shows/${encodeURIComponent(options.showId)}`;
    this.guest = options.guest ?? null;
    this.shopper = options.shopper ?? null;
  }

  /** Listen to one event type ("*" for every event); returns the unsubscribe. */
  on<T extends ServerEventType>(type: T, handler: Handler<T>): () => void;
  on(type: "*", handler: (data: unknown, event: Envelope) => void): () => void;
  on(type: string, handler: (data: never, event: never) => void): () => void {
    const set = this.handlers.get(type) ?? new Set();
    const h = handler as (data: unknown, event: Envelope) => void;
    set.add(h);
    this.handlers.set(type, set);
    return () => set.delete(h);
  }

  onStatus(handler: (status: SocketStatus) => void): () => void {
    this.statusHandlers.add(handler);
    return () => this.statusHandlers.delete(handler);
  }

  start(): void {
    if (this.started || this.status === "stopped") return;
    this.started = true;
    window.addEventListener("online", this.wake);
    window.addEventListener("pageshow", this.wake);
    document.addEventListener("visibilitychange", this.visible);
    this.connect();
  }

  /** Close for good (the page no longer needs the show). */
  stop(): void {
    this.halt(null);
  }

  /** Send a command; false when the socket is not open (the caller may retry). */
  send(command: ClientCommand | ClientCommand[]): boolean {
    if (this.ws?.readyState !== WebSocket.OPEN || this.status !== "open") return false;
    this.ws.send(JSON.stringify(command));
    return true;
  }

  /** Connect as another shopper (or as a guest with null): a new connection. */
  setShopper(token: string | null): void {
    this.shopper = token;
    this.forget();
    if (!this.started) return;
    if (this.status !== "stopped") return this.reconnectNow();
    if (this.stopped?.reason !== "forbidden") return;
    // Refused as who they were; whoever they are now may be let in.
    this.stopped = null;
    this.started = false;
    this.status = "waiting";
    this.start();
  }

  // -- the connection -----------------------------------------------------------

  private connect(): void {
    window.clearTimeout(this.timer);
    const since = this.epoch !== null && this.offset >= 0 ? `?since=${this.epoch}:${this.offset}` : "";
    const ws = new WebSocket(this.url + since);
    this.ws = ws;
    this.setStatus("connecting");
    ws.addEventListener("open", () => {
      if (this.ws !== ws) return;
      // Credentials go in the first frame, never in the URL (URLs end up in logs).
      const auth: ClientCommand = { type: "auth" };
      if (this.shopper) auth.shopper = this.shopper;
      else if (this.guest) auth.guest = this.guest;
      ws.send(JSON.stringify(auth));
      this.setStatus("open");
    });
    ws.addEventListener("message", (e) => {
      if (this.ws !== ws) return;
      window.clearTimeout(this.probeTimer);
      this.attempts = 0; // it works: the next drop starts the backoff afresh
      let events: Envelope[];
      try {
        events = JSON.parse(String(e.data));
      } catch {
        return;
      }
      if (!Array.isArray(events)) return;
      for (const event of events) this.receive(event);
    });
    ws.addEventListener("close", (e) => {
      if (this.ws !== ws) return;
      this.ws = null;
      window.clearTimeout(this.probeTimer);
      this.closed(e.code, e.reason);
    });
  }

  private receive(event: Envelope): void {
    if (event.type === "snapshot") {
      const data = event.data as ServerEvents["snapshot"];
      this.guest = data.me.guest_token ?? this.guest; // renewed on every connection
      this.position(event);
    } else if (event.type === "reset") {
      this.forget(); // a snapshot follows: every position before it is void
    } else if (event.offset !== undefined && event.epoch !== undefined) {
      // A reconnect may overlap what was applied: skip what is not new.
      if (event.epoch === this.epoch && event.offset <= this.offset) return;
      this.position(event);
    }
    for (const type of [event.type, "*"]) {
      for (const handler of this.handlers.get(type) ?? []) {
        try {
          handler(event.data, event);
        } catch (err) {
          console.error(`show socket: a ${event.type} handler failed`, err);
        }
      }
    }
  }

  /** Someone else connects next: start from a snapshot, whose `me` says who
   * (a resume has no snapshot, so a new guest would never learn its token). */
  private forget(): void {
    this.epoch = null;
    this.offset = -1;
  }

  private position(event: Envelope): void {
    if (event.epoch === undefined || event.offset === undefined) return;
    this.epoch = event.epoch;
    this.offset = event.offset;
  }

  private closed(code: number, reason: string): void {
    if (this.status === "stopped") return;
    if (code === 4004) return this.halt({ reason: "not_found", detail: reason });
    if (code === 4003) {
      // An expired token: come back without it (a new guest), at once.
      if (/expired|no longer accepted/i.test(reason) && (this.shopper || this.guest)) {
        if (this.shopper) this.shopper = null;
        else this.guest = null;
        this.forget();
        this.attempts = 0;
        this.setStatus("waiting");
        this.timer = window.setTimeout(() => this.connect(), 0);
        return;
      }
      return this.halt({ reason: "forbidden", detail: reason }); // banned, or not allowed here
    }
    // Busy (4029: too many requests or sockets from here; 1013: the node is full):
    // back off harder. Anything else (a drop, a restart, 4000 resync) resumes.
    if (code === 4029 || code === 1013) this.attempts += 2;
    this.retryLater();
  }

  private retryLater(): void {
    this.setStatus("waiting");
    const cap = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** this.attempts);
    this.attempts = Math.min(this.attempts + 1, 16);
    // Full jitter over the upper half: thousands of viewers dropped by one restart
    // do not come back in the same instant.
    const delay = cap / 2 + Math.random() * (cap / 2);
    window.clearTimeout(this.timer);
    this.timer = window.setTimeout(() => this.connect(), delay);
  }

  private reconnectNow(): void {
    const ws = this.ws;
    this.ws = null;
    ws?.close(1000);
    window.clearTimeout(this.probeTimer);
    this.attempts = 0;
    this.connect();
  }

  /** The network is back or the page is visible again. */
  private wakeUp(): void {
    if (this.status === "stopped") return;
    if (!this.ws) {
      this.attempts = 0;
      this.connect();
    } else if (this.ws.readyState === WebSocket.OPEN && this.status === "open") {
      // After a sleep the socket may be dead without knowing it: ask.
      window.clearTimeout(this.probeTimer);
      this.ws.send(JSON.stringify({ type: "ping" } satisfies ClientCommand));
      this.probeTimer = window.setTimeout(() => this.reconnectNow(), PROBE_MS);
    }
  }

  private halt(why: ShowSocket["stopped"]): void {
    window.clearTimeout(this.timer);
    window.clearTimeout(this.probeTimer);
    window.removeEventListener("online", this.wake);
    window.removeEventListener("pageshow", this.wake);
    document.removeEventListener("visibilitychange", this.visible);
    const ws = this.ws;
    this.ws = null;
    ws?.close(1000);
    this.started = false;
    this.stopped = why;
    this.setStatus("stopped");
  }

  private setStatus(status: SocketStatus): void {
    if (status === this.status) return;
    this.status = status;
    for (const handler of this.statusHandlers) handler(status);
  }
}
