// The minimal watch page (/watch/{show_id}): Low-Latency HLS with hls.js (or
// the browser's own HLS where there is no Media Source Extensions), muted
// autoplay with an unmute button, and the show's state from its real-time
// channel. The embeddable player replaces it later.

import Hls, { ErrorTypes, Events } from "hls.js/light";
import type { ClientCommand, Envelope, ServerEvents } from "../shared/events";

const RETRY_MS = 2000;

// The last path segment: /watch/{id} or the iframe page /embed/shows/{id}.
const showId = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop() ?? "");
const src = `/hls/${encodeURIComponent(showId)}/index.m3u8`;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const video = $<HTMLVideoElement>("video");
const overlay = $<HTMLDivElement>("overlay");
const badge = $<HTMLSpanElement>("badge");
const statusLine = $<HTMLParagraphElement>("status");
const debugLine = $<HTMLParagraphElement>("debug");
const unmute = $<HTMLButtonElement>("unmute");
const playButton = $<HTMLButtonElement>("play");

type ShowState = ServerEvents["show.state"]["state"];
type StreamStatus = ServerEvents["stream.status"]["status"];

const state = {
  show: null as ShowState | null,
  stream: null as StreamStatus | null,
  /** From the media playlist: true while it has no ENDLIST. */
  live: null as boolean | null,
  waiting: true,
  ended: false,
  missing: false,
};

let hls: Hls | null = null;
let retry: number | undefined;
let mediaRecoveries = 0;

// -- status ---------------------------------------------------------------------

function statusText(): string {
  if (state.missing) return "This show does not exist.";
  if (state.show === "live" && state.stream === "reconnecting") return "Reconnecting…";
  if (state.ended) return "The show has ended.";
  if (state.live === true) return "Live";
  if (state.live === false) return "Replay";
  if (state.show === "ended") return "The show has ended. The replay will be here shortly.";
  if (state.waiting) return "Waiting for the show to start";
  return "Loading…";
}

function render(): void {
  const text = statusText();
  statusLine.textContent = text;
  document.body.dataset.status = text;
  const playing = state.live !== null && !state.waiting;
  overlay.hidden = playing && !(state.stream === "reconnecting" && state.show === "live");
  overlay.textContent = text;
  badge.hidden = state.live === null;
  badge.textContent = state.live ? "Live" : "Replay";
  badge.classList.toggle("replay", state.live === false);
  unmute.textContent = video.muted ? "Unmute" : "Mute";
}

// -- playback -------------------------------------------------------------------

function play(): void {
  video.play().then(
    () => (playButton.hidden = true),
    // autoplay refused (even muted, e.g. power saving): wait for a tap
    () => (playButton.hidden = false),
  );
}

function teardown(): void {
  hls?.destroy();
  hls = null;
  video.removeAttribute("src");
  video.load();
}

function later(): void {
  window.clearTimeout(retry);
  retry = window.setTimeout(() => void start(), RETRY_MS);
}

/** Wait for the stream to exist (404 before anything is published), then play it. */
async function start(): Promise<void> {
  window.clearTimeout(retry);
  if (hls || state.missing) return;
  const res = await fetch(src, { cache: "no-store" }).catch(() => null);
  if (!res || !res.ok) {
    state.waiting = true;
    render();
    later();
    return;
  }
  state.waiting = false;
  state.ended = false;
  render();
  if (Hls.isSupported()) attachHlsJs();
  else if (video.canPlayType("application/vnd.apple.mpegurl")) attachNative();
  else {
    statusLine.textContent = "This browser cannot play the stream.";
    return;
  }
  play();
}

function attachHlsJs(): void {
  const h = new Hls({ lowLatencyMode: true, backBufferLength: 30 });
  hls = h;
  mediaRecoveries = 0;
  h.on(Events.LEVEL_LOADED, (_e, data) => {
    state.live = data.details.live;
    render();
  });
  h.on(Events.ERROR, (_e, data) => {
    if (!data.fatal) return;
    if (data.type === ErrorTypes.MEDIA_ERROR && mediaRecoveries++ < 3) {
      h.recoverMediaError();
      return;
    }
    console.warn("playback stopped, retrying:", data.details);
    teardown();
    state.live = null;
    state.waiting = true;
    render();
    later();
  });
  h.loadSource(src);
  h.attachMedia(video);
}

function attachNative(): void {
  video.src = src;
  video.addEventListener(
    "loadedmetadata",
    () => {
      state.live = !Number.isFinite(video.duration);
      render();
    },
    { once: true },
  );
  video.addEventListener(
    "error",
    () => {
      teardown();
      state.live = null;
      state.waiting = true;
      render();
      later();
    },
    { once: true },
  );
}

video.addEventListener("ended", () => {
  state.ended = true;
  playButton.textContent = "Watch from the start";
  playButton.hidden = false;
  render();
});
video.addEventListener("playing", () => {
  state.ended = false;
  render();
});
video.addEventListener("volumechange", render);

unmute.addEventListener("click", () => {
  video.muted = !video.muted;
  if (!video.muted && video.volume === 0) video.volume = 1;
  play();
});
playButton.addEventListener("click", () => {
  if (state.ended) video.currentTime = 0;
  play();
});

// -- the show's real-time channel -----------------------------------------------

let guestToken: string | null = null;
let wsDelay = 1000;

function connect(): void {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${scheme}//${location.host}/ws/shows/${encodeURIComponent(showId)}`);
  ws.addEventListener("open", () => {
    wsDelay = 1000;
    // Credentials go in the first frame, never in the URL (URLs end up in logs).
    const auth: ClientCommand = { type: "auth", guest: guestToken };
    ws.send(JSON.stringify(auth));
  });
  ws.addEventListener("message", (e) => {
    let events: Envelope[];
    try {
      events = JSON.parse(String(e.data));
    } catch {
      return;
    }
    for (const event of events) handle(event);
  });
  ws.addEventListener("close", (e) => {
    if (e.code === 4004) {
      state.missing = true;
      teardown();
      render();
      return;
    }
    if (e.code === 4003 && guestToken && /expired|no longer accepted/.test(e.reason)) {
      guestToken = null; // come back as a new guest
    } else if (e.code === 4003) return; // not allowed here: the player works without it
    window.setTimeout(connect, wsDelay);
    wsDelay = Math.min(wsDelay * 2, 30_000);
  });
}

function handle(event: Envelope): void {
  switch (event.type) {
    case "snapshot": {
      const data = event.data as ServerEvents["snapshot"];
      state.show = data.state;
      guestToken = data.me.guest_token ?? guestToken; // renewed on every connection
      break;
    }
    case "show.state":
      state.show = (event.data as ServerEvents["show.state"]).state;
      break;
    case "stream.status": {
      state.stream = (event.data as ServerEvents["stream.status"]).status;
      // the host is (back) on air: no need to wait for the next retry
      if (state.stream === "live" && !hls) void start();
      break;
    }
    default:
      return;
  }
  render();
}

// -- the debug line: how far behind live this viewer is ---------------------------

function debug(): void {
  const parts: string[] = [];
  if (hls) {
    const latency = hls.latency;
    if (state.live && Number.isFinite(latency) && latency > 0) {
      parts.push(`latency ${latency.toFixed(2)} s (target ${hls.targetLatency?.toFixed(1) ?? "?"} s)`);
      debugLine.dataset.latency = latency.toFixed(3);
    }
  } else if (video.src) {
    parts.push("native HLS");
  }
  const b = video.buffered;
  if (b.length) parts.push(`buffer ${Math.max(0, b.end(b.length - 1) - video.currentTime).toFixed(2)} s`);
  if (video.videoWidth) parts.push(`${video.videoWidth}×${video.videoHeight}`);
  if (video.playbackRate !== 1) parts.push(`rate ${video.playbackRate.toFixed(2)}×`);
  debugLine.textContent = parts.join(" · ");
}

render();
if (showId) {
  connect();
  void start();
  window.setInterval(debug, 1000);
} else {
  state.missing = true;
  render();
}
