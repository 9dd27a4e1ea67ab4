import { css, html, nothing } from "lit";
import { ApiError, api, type Ingest, type Session, type Show, type StreamHealth } from "../shared/api";
import { staffMessage } from "../shared/errors";
import { StudioElement } from "./element";
import { t, withSlots } from "./i18n";
import { properties } from "./properties";
import { shared } from "./styles";
import { WhipError, WhipPublisher, h264Codecs } from "./whip";

const MAX_BITRATE = 2_500_000;
const HEALTH_EVERY_MS = 2000;
// What the status line says, by name: kept as a name (not words) so it reads in
// the language of the moment. The show goes live when the server receives the
// first video, a moment after the WHIP answer: "connected" until then.
const STATUS = {
  asking: () => t("studio.golive.asking"),
  camera_on: () => t("studio.golive.camera_on"),
  connecting: () => t("studio.golive.connecting"),
  connected: () => t("studio.golive.connected"),
  on_air: () => t("studio.golive.on_air"),
  unstable: () => t("studio.golive.unstable"),
  ended_elsewhere: () => t("studio.golive.ended_elsewhere"),
  ending: () => t("studio.golive.ending"),
  publishing_replay: () => t("studio.golive.publishing_replay"),
  not_started: () => t("studio.golive.not_started"),
  replay_published: () => t("studio.golive.replay_published"),
  ended: () => t("studio.golive.ended"),
};
type Status = keyof typeof STATUS | "";
const CONNECTED: Status = "connected";
const ON_AIR: Status = "on_air";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Phase = "off" | "camera" | "connecting" | "live" | "dropped" | "ending";

interface SenderStats {
  width: number;
  height: number;
  fps: number;
  kbps: number;
  encoder: string;
  limitedBy: string;
}

// One broadcast per tab, kept outside the element: picking another show or
// opening Products must not cut the stream.
class Broadcast extends EventTarget {
  showId: string | null = null;
  showTitle = "";
  stream: MediaStream | null = null;
  publisher: WhipPublisher | null = null;
  phase: Phase = "off";
  /** The show the status line and error below are about. */
  noteFor: string | null = null;
  status: Status = "";
  error = "";
  sender: SenderStats | null = null;
  private lastBytes = 0;
  private lastAt = 0;

  changed(): void {
    this.dispatchEvent(new Event("change"));
  }

  note(showId: string, status: Status, error = ""): void {
    this.noteFor = showId;
    this.status = status;
    this.error = error;
    this.changed();
  }

  stopCamera(): void {
    this.stream?.getTracks().forEach((t) => t.stop());
    this.stream = null;
    this.showId = null;
    this.phase = "off";
    this.sender = null;
  }

  async sample(): Promise<void> {
    const stat = await this.publisher?.outboundVideo().catch(() => null);
    if (!stat) return;
    const bytes = Number(stat.bytesSent ?? 0);
    const now = Number(stat.timestamp);
    const kbps = this.lastAt && now > this.lastAt ? ((bytes - this.lastBytes) * 8) / (now - this.lastAt) : 0;
    this.lastBytes = bytes;
    this.lastAt = now;
    this.sender = {
      width: Number(stat.frameWidth ?? 0),
      height: Number(stat.frameHeight ?? 0),
      fps: Number(stat.framesPerSecond ?? 0),
      kbps: Math.round(kbps),
      encoder: String(stat.encoderImplementation ?? ""),
      limitedBy: String(stat.qualityLimitationReason ?? ""),
    };
  }
}

const broadcast = new Broadcast();

window.addEventListener("beforeunload", (e) => {
  if (broadcast.phase === "live") e.preventDefault();
});

function mediaError(e: unknown): string {
  const name = e instanceof DOMException ? e.name : "";
  switch (name) {
    case "NotAllowedError":
    case "SecurityError":
      return t("studio.golive.media_refused");
    case "NotFoundError":
      return t("studio.golive.media_missing");
    case "NotReadableError":
    case "AbortError":
      return t("studio.golive.media_busy");
    case "OverconstrainedError":
      return t("studio.golive.media_overconstrained");
    default:
      return t("studio.golive.media_failed", { error: e instanceof Error ? e.message : String(e) });
  }
}

function whipMessage(e: unknown): string {
  if (e instanceof WhipError) {
    if (e.status === 401) return t("studio.golive.key_refused");
    if (e.status === 409 && e.code === "publisher_active") return t("studio.golive.publisher_active");
    if (e.status === 409) return t("studio.golive.cannot_go_live", { error: e.message });
    if (e.status) return t("studio.golive.stream_refused", { status: String(e.status), error: e.message });
    // refused here, before any server (whip.ts): its code says why
    if (e.code === "network") return t("studio.golive.no_server");
    if (e.code === "no_h264") return t("studio.golive.no_h264");
    if (e.code === "no_video") return t("studio.golive.no_video");
    return t("studio.golive.stream_failed", { error: e.message });
  }
  return staffMessage(e);
}

function kbps(v: number | null | undefined): string {
  if (v === null || v === undefined) return "—";
  return v >= 1000 ? t("studio.health.mbps", { n: Math.round(v / 10) / 100 }) : t("studio.health.kbps", { n: v });
}

function healthStateName(state: string): string {
  switch (state) {
    case "live":
      return t("studio.health.state_live");
    case "reconnecting":
      return t("studio.health.state_reconnecting");
    case "offline":
      return t("studio.health.state_offline");
    default:
      return state;
  }
}

/** Why the browser sends less than it could (WebRTC's qualityLimitationReason). */
function limitName(reason: string): string {
  switch (reason) {
    case "cpu":
      return t("studio.health.limited_cpu");
    case "bandwidth":
      return t("studio.health.limited_bandwidth");
    default:
      return t("studio.health.limited_other");
  }
}

export class StudioGoLive extends StudioElement {
  static properties = properties(["show", "session"], ["health", "healthError", "cameras", "mics"]);
  static styles = [
    shared,
    css`
      .stage { position: relative; background: #1d1b18; border-radius: 10px; overflow: hidden;
        aspect-ratio: 16 / 9; display: grid; place-items: center; color: #d8d2c6; }
      .stage video { width: 100%; height: 100%; object-fit: contain; display: block; }
      .stage .badge { position: absolute; top: 10px; left: 10px; }
      .row { display: flex; gap: 8px; align-items: center; flex-wrap: wrap; margin-top: 10px; }
      .row label { flex: 1; min-width: 160px; }
      .status { margin: 10px 0 0; font-size: 14px; }
      .health { display: grid; grid-template-columns: repeat(auto-fill, minmax(140px, 1fr));
        gap: 10px; margin: 0; }
      .health div { background: #faf8f4; border: 1px solid #eee8de; border-radius: 8px; padding: 8px 10px; }
      .health dt { font-size: 12px; text-transform: uppercase; letter-spacing: 0.04em; color: #7a7367; }
      .health dd { margin: 2px 0 0; font-weight: 650; font-variant-numeric: tabular-nums; }
      .section { margin-top: 20px; }
      .warn { color: #9a5b00; }
    `,
  ];

  show!: Show;
  session!: Session;
  health: StreamHealth | null = null;
  healthError = "";
  cameras: MediaDeviceInfo[] = [];
  mics: MediaDeviceInfo[] = [];
  private ingest: Ingest | null = null;
  private ingestFor = "";
  private timer: number | undefined;
  private onChange = () => this.requestUpdate();

  connectedCallback(): void {
    super.connectedCallback();
    broadcast.addEventListener("change", this.onChange);
    this.timer = window.setInterval(() => void this.poll(), HEALTH_EVERY_MS);
    void this.poll();
    if (broadcast.stream) void this.listDevices();
  }

  disconnectedCallback(): void {
    super.disconnectedCallback();
    broadcast.removeEventListener("change", this.onChange);
    window.clearInterval(this.timer);
  }

  protected willUpdate(changed: Map<PropertyKey, unknown>): void {
    const before = changed.get("show") as Show | undefined;
    if (before && before.id !== this.show.id) {
      this.health = null;
      this.healthError = "";
      void this.poll();
    }
  }

  protected updated(): void {
    const video = this.renderRoot.querySelector<HTMLVideoElement>("video.preview");
    if (video && video.srcObject !== broadcast.stream) {
      video.srcObject = broadcast.stream;
      video.play().catch(() => undefined);
    }
  }

  private get mine(): boolean {
    return broadcast.showId === this.show.id;
  }

  private get busyElsewhere(): boolean {
    return broadcast.showId !== null && !this.mine;
  }

  // -- stream health ----------------------------------------------------------

  private async poll(): Promise<void> {
    const show = this.show;
    if (!show) return;
    const publishing = this.mine && broadcast.phase === "live";
    if (publishing) await broadcast.sample();
    if (!publishing && !["scheduled", "live"].includes(show.state)) return;
    try {
      const health = await api<StreamHealth>("GET", `/api/v1/shows/${show.id}/stream`);
      if (this.show.id !== show.id) return;
      this.health = health;
      this.healthError = "";
      // OBS (or this browser) took the show live: tell the list.
      let current: Show | null = show;
      if (health.state !== "offline" && show.state === "scheduled") current = await this.refreshShow(show.id);
      if (publishing && current?.state === "live" && broadcast.status === CONNECTED) broadcast.note(show.id, ON_AIR);
    } catch (e) {
      this.healthError = staffMessage(e);
    }
    if (publishing) broadcast.changed();
  }

  private async refreshShow(id: string): Promise<Show | null> {
    try {
      const show = await api<Show>("GET", `/api/v1/shows/${id}`);
      this.dispatchEvent(new CustomEvent<Show>("show-changed", { detail: show, bubbles: true, composed: true }));
      return show;
    } catch {
      return null;
    }
  }

  // -- camera ------------------------------------------------------------------

  private async listDevices(): Promise<void> {
    const devices = await navigator.mediaDevices.enumerateDevices();
    this.cameras = devices.filter((d) => d.kind === "videoinput");
    this.mics = devices.filter((d) => d.kind === "audioinput");
  }

  private constraints(camera?: string, mic?: string): MediaStreamConstraints {
    return {
      video: {
        width: { ideal: 1280 },
        height: { ideal: 720 },
        frameRate: { ideal: 30 },
        ...(camera ? { deviceId: { exact: camera } } : {}),
      },
      audio: {
        echoCancellation: true,
        noiseSuppression: true,
        ...(mic ? { deviceId: { exact: mic } } : {}),
      },
    };
  }

  private async startCamera(): Promise<void> {
    const id = this.show.id;
    if (!navigator.mediaDevices?.getUserMedia) {
      broadcast.note(id, "", t("studio.golive.needs_https"));
      return;
    }
    if (h264Codecs().length === 0) {
      broadcast.note(id, "", t("studio.golive.no_h264"));
      return;
    }
    broadcast.note(id, "asking");
    try {
      broadcast.stream = await navigator.mediaDevices.getUserMedia(this.constraints());
    } catch (e) {
      broadcast.note(id, "", mediaError(e));
      return;
    }
    broadcast.showId = id;
    broadcast.showTitle = this.show.title;
    broadcast.phase = "camera";
    broadcast.note(id, "camera_on");
    await this.listDevices();
  }

  private async switchDevice(kind: "video" | "audio", deviceId: string): Promise<void> {
    const stream = broadcast.stream;
    if (!stream) return;
    const current = kind === "video" ? stream.getVideoTracks()[0] : stream.getAudioTracks()[0];
    const c = this.constraints(kind === "video" ? deviceId : undefined, kind === "audio" ? deviceId : undefined);
    try {
      const fresh = await navigator.mediaDevices.getUserMedia(kind === "video" ? { video: c.video } : { audio: c.audio });
      const track = fresh.getTracks()[0];
      await broadcast.publisher?.replaceTrack(track);
      if (current) {
        stream.removeTrack(current);
        current.stop();
      }
      stream.addTrack(track);
      broadcast.error = "";
    } catch (e) {
      broadcast.error = mediaError(e);
    }
    broadcast.changed();
  }

  private turnOffCamera(): void {
    broadcast.stopCamera();
    broadcast.note(this.show.id, "");
  }

  // -- publishing ----------------------------------------------------------------

  private async key(): Promise<Ingest> {
    if (!this.ingest || this.ingestFor !== this.show.id) {
      this.ingest = await api<Ingest>("GET", `/api/v1/shows/${this.show.id}/ingest`);
      this.ingestFor = this.show.id;
    }
    return this.ingest;
  }

  private async startBroadcast(): Promise<void> {
    const stream = broadcast.stream;
    const id = this.show.id;
    if (!stream || !this.mine) return;
    const retry = broadcast.phase === "dropped" ? "dropped" : "camera";
    broadcast.phase = "connecting";
    broadcast.note(id, "connecting");
    let publisher: WhipPublisher | null = null;
    try {
      const ingest = await this.key();
      publisher = new WhipPublisher(ingest.whip_url, ingest.stream_key);
      await publisher.start(stream, { maxBitrate: MAX_BITRATE });
    } catch (e) {
      // a rotated key: fetch it afresh next time
      if (e instanceof WhipError && e.status === 401) this.ingest = null;
      broadcast.phase = retry;
      broadcast.note(id, "", whipMessage(e));
      return;
    }
    broadcast.publisher = publisher;
    broadcast.phase = "live";
    broadcast.note(id, this.show.id === id && this.show.state === "live" ? ON_AIR : CONNECTED);
    const pc = publisher.pc;
    pc.addEventListener("connectionstatechange", () => {
      if (broadcast.publisher !== publisher) return;
      if (pc.connectionState === "failed") {
        publisher.close();
        broadcast.publisher = null;
        void this.dropped(id);
      } else if (pc.connectionState === "disconnected") {
        broadcast.note(id, "unstable");
      } else if (pc.connectionState === "connected" && broadcast.status !== CONNECTED) {
        broadcast.note(id, this.show.id === id && this.show.state === "live" ? ON_AIR : CONNECTED);
      }
    });
    void this.poll();
  }

  // The connection failed: either the network, or the show was ended
  // elsewhere (the End show button, another tab, the API).
  private async dropped(id: string): Promise<void> {
    const show = await api<Show>("GET", `/api/v1/shows/${id}`).catch(() => null);
    if (show && (show.state === "ended" || show.state === "replay")) {
      broadcast.stopCamera();
      broadcast.note(id, "ended_elsewhere");
      if (show.id === this.show.id) this.dispatchEvent(new CustomEvent<Show>("show-changed", { detail: show, bubbles: true, composed: true }));
      return;
    }
    broadcast.phase = "dropped";
    broadcast.note(
      id,
      "",
      t("studio.golive.connection_lost"),
    );
  }

  private async endShow(): Promise<void> {
    const publisher = broadcast.publisher;
    if (!this.mine) return;
    if (!confirm(t("studio.golive.confirm_end", { title: this.show.title }))) return;
    const id = this.show.id;
    broadcast.phase = "ending";
    broadcast.note(id, "ending");
    let problem = "";
    try {
      if (publisher) await publisher.stop();
      else throw new WhipError(0, "no_session", "not publishing");
    } catch {
      // the session is gone (dropped, or replaced): end the show directly
      try {
        await api("POST", `/api/v1/shows/${this.show.id}/transitions`, { to: "ended" });
      } catch (e) {
        if (!(e instanceof ApiError && e.status === 409)) problem = whipMessage(e);
      }
    }
    broadcast.publisher = null;
    broadcast.stopCamera();
    this.health = null;
    if (problem) {
      broadcast.note(id, "", problem);
      return;
    }
    // ended → replay happens on the server a moment later
    let show: Show | null = null;
    for (let i = 0; i < 15; i++) {
      show = await this.refreshShow(id);
      if (!show || show.state !== "ended") break;
      broadcast.note(id, "publishing_replay");
      await sleep(1000);
    }
    if (show?.state === "scheduled") broadcast.note(id, "not_started");
    else if (show?.state === "replay") broadcast.note(id, "replay_published");
    else broadcast.note(id, "ended");
  }

  // -- rendering ---------------------------------------------------------------

  /** A select for one kind of device, the one in use selected. */
  private picker(kind: "video" | "audio", label: string, devices: MediaDeviceInfo[]) {
    const track = kind === "video" ? broadcast.stream?.getVideoTracks()[0] : broadcast.stream?.getAudioTracks()[0];
    const inUse = track?.getSettings().deviceId;
    return html`<label>${label}
      <select @change=${(e: Event) => this.switchDevice(kind, (e.target as HTMLSelectElement).value)}>
        ${devices.map(
          (d, i) => html`<option value=${d.deviceId} ?selected=${inUse === d.deviceId}>
            ${d.label || t("studio.golive.device_n", { device: label, n: i + 1 })}</option>`,
        )}
      </select>
    </label>`;
  }

  private renderControls() {
    const state = this.show.state;
    if (this.busyElsewhere) {
      return html`<p class="muted">${t("studio.golive.busy_elsewhere", { title: broadcast.showTitle })}</p>`;
    }
    if (!this.mine || broadcast.phase === "off") {
      if (state === "ended" || state === "replay") {
        return html`<p class="muted">${t("studio.golive.show_over")}</p>`;
      }
      return html`<div class="row"><button class="secondary" @click=${() => this.startCamera()}>${t("studio.golive.camera_on_button")}</button></div>`;
    }
    const phase = broadcast.phase;
    const camera = this.picker("video", t("studio.golive.camera"), this.cameras);
    const mic = this.picker("audio", t("studio.golive.microphone"), this.mics);
    const ready = phase === "camera";
    const connecting = phase === "connecting";
    const dropped = phase === "dropped";
    const ending = phase === "ending";
    return html`<div class="row">${camera}${mic}</div>
      <div class="row">
        ${ready
          ? html`<button @click=${() => this.startBroadcast()}>${t("studio.golive.start")}</button>
              <button class="secondary" @click=${() => this.turnOffCamera()}>${t("studio.golive.camera_off_button")}</button>`
          : nothing}
        ${connecting ? html`<button disabled>${t("studio.golive.connecting_button")}</button>` : nothing}
        ${dropped ? html`<button @click=${() => this.startBroadcast()}>${t("studio.golive.reconnect")}</button>` : nothing}
        ${phase === "live" || dropped || ending
          ? html`<button class="danger" ?disabled=${ending} @click=${() => this.endShow()}>
              ${t("studio.golive.stop_and_end")}</button>`
          : nothing}
      </div>`;
  }

  private renderStage() {
    const showing = this.mine && broadcast.stream;
    return html`<div class="stage">
      ${showing
        ? html`<video class="preview" .muted=${true} playsinline autoplay aria-label=${t("studio.golive.preview")}></video>`
        : html`<span>${t("studio.golive.camera_off")}</span>`}
      ${this.mine && broadcast.phase === "live" ? html`<span class="pill live badge">● ${t("studio.show_state.live")}</span>` : nothing}
    </div>`;
  }

  private renderHealth() {
    const h = this.health;
    const p = h?.publisher;
    const s = this.mine && broadcast.phase === "live" ? broadcast.sender : null;
    const unsteady = h?.state === "reconnecting";
    const limited = s?.limitedBy && s.limitedBy !== "none" ? s.limitedBy : "";
    const cell = (label: string, value: string, warn = false) =>
      html`<div><dt>${label}</dt><dd class=${warn ? "warn" : ""}>${value}</dd></div>`;
    return html`<div class="section">
      <h3>${t("studio.health.title")}</h3>
      ${this.healthError ? html`<p class="error">${this.healthError}</p>` : nothing}
      <dl class="health" aria-label=${t("studio.health.title")}>
        ${cell(t("studio.health.state"), h ? healthStateName(h.state) : "—", unsteady)}
        ${cell(t("studio.health.resolution"), p?.width && p.height ? `${p.width}×${p.height}` : "—")}
        ${cell(t("studio.health.frame_rate"), p ? t("studio.health.fps", { n: p.fps }) : "—", !!p && p.fps > 0 && p.fps < 15)}
        ${cell(t("studio.health.video"), p ? kbps(p.video_kbps) : "—")}
        ${cell(t("studio.health.audio"), p ? kbps(p.audio_kbps) : "—")}
        ${cell(t("studio.health.keyframes"), p?.keyframe_interval_s ? t("studio.health.seconds", { n: p.keyframe_interval_s }) : "—",
          !!p?.keyframe_interval_s && p.keyframe_interval_s > 4)}
        ${cell(t("studio.health.packet_loss"), p?.packet_loss_pct !== null && p?.packet_loss_pct !== undefined
          ? t("studio.health.percent", { n: p.packet_loss_pct })
          : "—", (p?.packet_loss_pct ?? 0) > 2)}
        ${cell(t("studio.health.codec"), p ? (p.transcoding ? t("studio.health.transcoded", { codec: p.codec }) : p.codec) : "—")}
      </dl>
      ${s
        ? html`<p class="muted">${t("studio.health.sending", {
              size: `${s.width}×${s.height}`,
              fps: Math.round(s.fps),
              rate: kbps(s.kbps),
            })}${s.encoder ? ` (${s.encoder})` : ""}${limited
              ? html` — <span class="warn">${limitName(limited)}</span>`
              : ""}</p>`
        : nothing}
    </div>`;
  }

  render() {
    const noted = broadcast.noteFor === this.show.id;
    return html`<div class="section">
        <h3>${t("studio.golive.title")}</h3>
        ${this.renderStage()}
        ${this.renderControls()}
        ${noted && broadcast.status ? html`<p class="status" role="status">${STATUS[broadcast.status]()}</p>` : nothing}
        ${noted && broadcast.error ? html`<p class="error" role="alert">${broadcast.error}</p>` : nothing}
        <p class="muted">${withSlots(t("studio.golive.viewers_watch"), {
          link: html`<a href="/watch/${this.show.id}" target="_blank" rel="noopener">${t("studio.golive.watch_page")}</a>`,
        })}</p>
      </div>
      ${this.renderHealth()}`;
  }
}
customElements.define("studio-go-live", StudioGoLive);
