import { LitElement, css, html, nothing } from "lit";
import { ApiError, api, type Ingest, type Session, type Show, type StreamHealth } from "../shared/api";
import { staffMessage } from "../shared/errors";
import { properties } from "./properties";
import { shared } from "./styles";
import { WhipError, WhipPublisher, h264Codecs } from "./whip";

const MAX_BITRATE = 2_500_000;
const HEALTH_EVERY_MS = 2000;
// The show goes live when the server receives the first video, a moment after
// the WHIP answer.
const CONNECTED = "Connected. The show goes live as soon as the first picture arrives…";
const ON_AIR = "You are live.";

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
  status = "";
  error = "";
  sender: SenderStats | null = null;
  private lastBytes = 0;
  private lastAt = 0;

  changed(): void {
    this.dispatchEvent(new Event("change"));
  }

  note(showId: string, status: string, error = ""): void {
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
      return "Camera and microphone access was refused. Allow them for this site in the browser's settings, then try again.";
    case "NotFoundError":
      return "No camera or microphone was found.";
    case "NotReadableError":
    case "AbortError":
      return "The camera or microphone is in use by another application.";
    case "OverconstrainedError":
      return "The chosen camera cannot deliver video; pick another one.";
    default:
      return `The camera could not be started: ${e instanceof Error ? e.message : String(e)}`;
  }
}

function whipMessage(e: unknown): string {
  if (e instanceof WhipError) {
    if (e.status === 401) return "The stream key was refused (it may have been rotated). Reload the page and try again.";
    if (e.status === 409 && e.code === "publisher_active")
      return "Someone else is already publishing to this show (OBS or another browser). Stop that stream first.";
    if (e.status === 409) return `The show cannot go live: ${e.message}.`;
    return e.status ? `The server refused the stream (${e.status}): ${e.message}.` : `${e.message}.`;
  }
  return staffMessage(e);
}

function kbps(v: number | null | undefined): string {
  if (v === null || v === undefined) return "—";
  return v >= 1000 ? `${(v / 1000).toFixed(2)} Mb/s` : `${v} kb/s`;
}

export class StudioGoLive extends LitElement {
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
      broadcast.note(id, "", "This page cannot use the camera: open the studio over HTTPS (or on localhost).");
      return;
    }
    if (h264Codecs().length === 0) {
      broadcast.note(id, "", "This browser cannot send H.264 video, which Pasar needs: use Chrome, Edge or Safari, or OBS.");
      return;
    }
    broadcast.note(id, "Asking for the camera and microphone…");
    try {
      broadcast.stream = await navigator.mediaDevices.getUserMedia(this.constraints());
    } catch (e) {
      broadcast.note(id, "", mediaError(e));
      return;
    }
    broadcast.showId = id;
    broadcast.showTitle = this.show.title;
    broadcast.phase = "camera";
    broadcast.note(id, "Camera on. Check the picture, then start the broadcast.");
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
    broadcast.note(id, "Connecting to the server…");
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
        broadcast.note(id, "The connection is unstable…");
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
      broadcast.note(id, "The show was ended.");
      if (show.id === this.show.id) this.dispatchEvent(new CustomEvent<Show>("show-changed", { detail: show, bubbles: true, composed: true }));
      return;
    }
    broadcast.phase = "dropped";
    broadcast.note(
      id,
      "",
      "The connection to the server was lost. The show stays live for a short while: reconnect to continue it.",
    );
  }

  private async endShow(): Promise<void> {
    const publisher = broadcast.publisher;
    if (!this.mine) return;
    if (!confirm(`End “${this.show.title}” now? Viewers are told the show is over and the recording becomes the replay.`)) return;
    const id = this.show.id;
    broadcast.phase = "ending";
    broadcast.note(id, "Ending the show…");
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
      broadcast.note(id, "The show has ended. The replay is being published…");
      await sleep(1000);
    }
    if (show?.state === "scheduled") broadcast.note(id, "Stopped before any video arrived: the show did not start.");
    else if (show?.state === "replay") broadcast.note(id, "The show has ended. Its replay is published.");
    else broadcast.note(id, "The show has ended.");
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
            ${d.label || `${label} ${i + 1}`}</option>`,
        )}
      </select>
    </label>`;
  }

  private renderControls() {
    const state = this.show.state;
    if (this.busyElsewhere) {
      return html`<p class="muted">This browser is already broadcasting “${broadcast.showTitle}”. End that show
        first (select it in the list).</p>`;
    }
    if (!this.mine || broadcast.phase === "off") {
      if (state === "ended" || state === "replay") {
        return html`<p class="muted">This show is over; schedule a new show to go live again.</p>`;
      }
      return html`<div class="row"><button class="secondary" @click=${() => this.startCamera()}>Turn on camera</button></div>`;
    }
    const phase = broadcast.phase;
    const pickers = html`<div class="row">
      ${this.picker("video", "Camera", this.cameras)}${this.picker("audio", "Microphone", this.mics)}
    </div>`;
    return html`${pickers}
      <div class="row">
        ${phase === "camera"
          ? html`<button @click=${() => this.startBroadcast()}>Start broadcast</button>
              <button class="secondary" @click=${() => this.turnOffCamera()}>Turn off camera</button>`
          : nothing}
        ${phase === "connecting" ? html`<button disabled>Connecting…</button>` : nothing}
        ${phase === "dropped" ? html`<button @click=${() => this.startBroadcast()}>Reconnect</button>` : nothing}
        ${phase === "live" || phase === "dropped" || phase === "ending"
          ? html`<button class="danger" ?disabled=${phase === "ending"} @click=${() => this.endShow()}>
              Stop and end show</button>`
          : nothing}
      </div>`;
  }

  private renderStage() {
    const showing = this.mine && broadcast.stream;
    return html`<div class="stage">
      ${showing
        ? html`<video class="preview" .muted=${true} playsinline autoplay aria-label="Camera preview"></video>`
        : html`<span>Camera off</span>`}
      ${this.mine && broadcast.phase === "live" ? html`<span class="pill live badge">● Live</span>` : nothing}
    </div>`;
  }

  private renderHealth() {
    const h = this.health;
    const p = h?.publisher;
    const s = this.mine && broadcast.phase === "live" ? broadcast.sender : null;
    const cell = (label: string, value: string, warn = false) =>
      html`<div><dt>${label}</dt><dd class=${warn ? "warn" : ""}>${value}</dd></div>`;
    return html`<div class="section">
      <h3>Stream health</h3>
      ${this.healthError ? html`<p class="error">${this.healthError}</p>` : nothing}
      <dl class="health" aria-label="Stream health">
        ${cell("State", h ? h.state : "—", h?.state === "reconnecting")}
        ${cell("Resolution", p?.width && p.height ? `${p.width}×${p.height}` : "—")}
        ${cell("Frame rate", p ? `${p.fps} fps` : "—", !!p && p.fps > 0 && p.fps < 15)}
        ${cell("Video", p ? kbps(p.video_kbps) : "—")}
        ${cell("Audio", p ? kbps(p.audio_kbps) : "—")}
        ${cell("Keyframes every", p?.keyframe_interval_s ? `${p.keyframe_interval_s} s` : "—",
          !!p?.keyframe_interval_s && p.keyframe_interval_s > 4)}
        ${cell("Packet loss", p?.packet_loss_pct !== null && p?.packet_loss_pct !== undefined ? `${p.packet_loss_pct} %` : "—",
          (p?.packet_loss_pct ?? 0) > 2)}
        ${cell("Codec", p ? p.codec + (p.transcoding ? " (transcoded)" : "") : "—")}
      </dl>
      ${s
        ? html`<p class="muted">This browser sends ${s.width}×${s.height} at ${Math.round(s.fps)} fps,
            ${kbps(s.kbps)}${s.encoder ? ` (${s.encoder})` : ""}${s.limitedBy && s.limitedBy !== "none"
              ? html` — <span class="warn">limited by ${s.limitedBy}</span>`
              : ""}.</p>`
        : nothing}
    </div>`;
  }

  render() {
    const noted = broadcast.noteFor === this.show.id;
    return html`<div class="section">
        <h3>Go live from this browser</h3>
        ${this.renderStage()}
        ${this.renderControls()}
        ${noted && broadcast.status ? html`<p class="status" role="status">${broadcast.status}</p>` : nothing}
        ${noted && broadcast.error ? html`<p class="error" role="alert">${broadcast.error}</p>` : nothing}
        <p class="muted">Viewers watch at <a href="/watch/${this.show.id}" target="_blank" rel="noopener">the watch page</a>.</p>
      </div>
      ${this.renderHealth()}`;
  }
}
customElements.define("studio-go-live", StudioGoLive);
