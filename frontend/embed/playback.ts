// The video: Low-Latency HLS through hls.js (loaded in its own chunk, only when
// there is something to play, so the shell paints without it) or the browser's
// own HLS where there is no Media Source Extensions (iOS Safari). Waits for the
// playlist to exist (404 until the host publishes), retries after errors, and
// reports what it sees; the element decides what to draw.

import type Hls from "hls.js/light";

const RETRY_MS = 2000;

export type PlaybackPhase =
  /** Nothing to play yet (no playlist). */
  | "waiting"
  | "loading"
  | "playing"
  /** The replay reached its end. */
  | "ended"
  /** Neither MSE nor native HLS. */
  | "unplayable";

export interface PlaybackInfo {
  phase: PlaybackPhase;
  /** From the playlist: true while it has no ENDLIST; null until known. */
  live: boolean | null;
  /** Autoplay was refused: a tap is needed. */
  needsTap: boolean;
  stalled: boolean;
}

export class Playback {
  info: PlaybackInfo = { phase: "waiting", live: null, needsTap: false, stalled: false };
  private hls: Hls | null = null;
  private retry: number | undefined;
  private recoveries = 0;
  private stopped = true;

  constructor(
    readonly video: HTMLVideoElement,
    private readonly src: string,
    private readonly changed: () => void,
  ) {
    video.addEventListener("ended", () => this.set({ phase: "ended" }));
    video.addEventListener("playing", () => this.set({ phase: "playing", needsTap: false, stalled: false }));
    video.addEventListener("waiting", () => this.set({ stalled: true }));
    video.addEventListener("canplay", () => this.set({ stalled: false }));
  }

  get hlsLatency(): number | null {
    const l = this.hls?.latency;
    return typeof l === "number" && Number.isFinite(l) && l > 0 ? l : null;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    void this.attach();
  }

  stop(): void {
    this.stopped = true;
    window.clearTimeout(this.retry);
    this.teardown();
  }

  /** Try again now (the host is back on air). */
  nudge(): void {
    if (!this.stopped && !this.hls && !this.video.src) void this.attach();
  }

  play(): void {
    this.video.play().then(
      () => this.set({ needsTap: false }),
      // Autoplay refused even muted (power saving, a data saver): wait for a tap.
      () => this.set({ needsTap: true }),
    );
  }

  private set(patch: Partial<PlaybackInfo>): void {
    this.info = { ...this.info, ...patch };
    this.changed();
  }

  private later(): void {
    window.clearTimeout(this.retry);
    if (!this.stopped) this.retry = window.setTimeout(() => void this.attach(), RETRY_MS);
  }

  private teardown(): void {
    this.hls?.destroy();
    this.hls = null;
    if (this.video.getAttribute("src")) {
      this.video.removeAttribute("src");
      this.video.load();
    }
  }

  private async attach(): Promise<void> {
    window.clearTimeout(this.retry);
    if (this.stopped || this.hls || this.video.getAttribute("src")) return;
    const res = await fetch(this.src, { cache: "no-store", credentials: "omit" }).catch(() => null);
    if (this.stopped) return;
    if (!res || !res.ok) {
      this.set({ phase: "waiting", live: null });
      this.later();
      return;
    }
    this.set({ phase: "loading" });
    const mse = typeof MediaSource !== "undefined" || "ManagedMediaSource" in window;
    if (mse) await this.attachHlsJs();
    else if (this.video.canPlayType("application/vnd.apple.mpegurl")) this.attachNative();
    else return this.set({ phase: "unplayable" });
    this.play();
  }

  private async attachHlsJs(): Promise<void> {
    const { default: HlsClass, Events, ErrorTypes } = await import("hls.js/light");
    if (this.stopped) return;
    if (!HlsClass.isSupported()) {
      if (this.video.canPlayType("application/vnd.apple.mpegurl")) return this.attachNative();
      return this.set({ phase: "unplayable" });
    }
    // Low latency on live; the ABR picks a rung when the show has a ladder.
    // No liveSyncDuration*: in lowLatencyMode hls.js sits the playlist's
    // PART-HOLD-BACK behind live (3 part targets, PASAR_HLS_PART_SECONDS), so the
    // server's setting is the one latency knob.
    const h = new HlsClass({ lowLatencyMode: true, backBufferLength: 30, capLevelToPlayerSize: true });
    this.hls = h;
    this.recoveries = 0;
    h.on(Events.LEVEL_LOADED, (_e, data) => {
      if (this.info.live !== data.details.live) this.set({ live: data.details.live });
    });
    h.on(Events.ERROR, (_e, data) => {
      if (!data.fatal) return;
      if (data.type === ErrorTypes.MEDIA_ERROR && this.recoveries++ < 3) {
        h.recoverMediaError();
        return;
      }
      console.warn("pasar: playback stopped, retrying:", data.details);
      this.teardown();
      this.set({ phase: "waiting", live: null });
      this.later();
    });
    h.loadSource(this.src);
    h.attachMedia(this.video);
  }

  private attachNative(): void {
    this.video.src = this.src;
    this.video.addEventListener(
      "loadedmetadata",
      () => this.set({ live: !Number.isFinite(this.video.duration) }),
      { once: true },
    );
    this.video.addEventListener(
      "error",
      () => {
        this.teardown();
        this.set({ phase: "waiting", live: null });
        this.later();
      },
      { once: true },
    );
  }
}
