// The minimal watch page (/watch/{show_id}): Low-Latency HLS with hls.js (or
// the browser's own HLS where there is no Media Source Extensions), muted
// autoplay with an unmute button, and the show's state from its real-time
// channel, in the shopper's language (`?locale=`, else the browser's). The
// embeddable player replaces it later. `?debug` shows the latency line.

import Hls, { ErrorTypes, Events } from "hls.js/light";
import type { ServerEvents } from "../shared/events";
import { pickLocale, setLocale, t } from "../shared/i18n";
import { ShowSocket } from "../shared/socket";

const RETRY_MS = 2000;

const query = new URLSearchParams(location.search);
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
  /** Neither Media Source Extensions nor native HLS. */
  unplayable: false,
};

let hls: Hls | null = null;
let retry: number | undefined;
let mediaRecoveries = 0;

// -- status ---------------------------------------------------------------------

/** The catalogue key of what the viewer is told now. */
function statusKey(): string {
  if (state.unplayable) return "state.cannot_play";
  if (state.missing) return "state.not_found";
  if (state.show === "live" && state.stream === "reconnecting") return "state.reconnecting";
  if (state.ended) return "state.ended";
  if (state.live === true) return "state.live_now";
  if (state.live === false) return "state.replay";
  if (state.show === "ended") return "state.ended_replay_soon";
  if (state.waiting) return "state.waiting";
  return "state.loading";
}

function render(): void {
  const key = statusKey();
  const text = t(key);
  statusLine.textContent = text;
  document.body.dataset.status = key; // the same in every language
  const playing = state.live !== null && !state.waiting;
  overlay.hidden = playing && !(state.stream === "reconnecting" && state.show === "live");
  overlay.textContent = text;
  badge.hidden = state.live === null;
  badge.textContent = t(state.live ? "state.live" : "state.replay");
  badge.classList.toggle("replay", state.live === false);
  unmute.textContent = t(video.muted ? "player.unmute" : "player.mute");
  playButton.textContent = t(state.ended ? "player.watch_from_start" : "player.play");
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
    state.unplayable = true;
    render();
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

const socket = new ShowSocket({ showId });
socket.on("snapshot", (data) => {
  state.show = data.state;
  render();
});
socket.on("show.state", (data) => {
  state.show = data.state;
  render();
});
socket.on("stream.status", (data) => {
  state.stream = data.status;
  // the host is (back) on air: no need to wait for the next retry
  if (state.stream === "live" && !hls) void start();
  render();
});
socket.onStatus((status) => {
  // 4004: no such show. (Refused here, 4003: the player works without it.)
  if (status === "stopped" && socket.stopped?.reason === "not_found") {
    state.missing = true;
    teardown();
    render();
  }
});

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

async function main(): Promise<void> {
  const lang = pickLocale(query.get("locale"), null);
  await setLocale(lang);
  document.documentElement.lang = lang;
  debugLine.hidden = !query.has("debug");
  render();
  if (showId) {
    socket.start();
    void start();
    window.setInterval(debug, 1000);
  } else {
    state.missing = true;
    render();
  }
}

void main();
