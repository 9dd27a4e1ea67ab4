// The player's icons as inline SVG: no icon font or emoji font to load (a phone
// without the right font would draw boxes), crisp at any size, coloured by
// `currentColor`. Decorative: the button around each carries the name.

import { html, type TemplateResult } from "lit";

const PATHS = {
  heart: "M12 21s-7.5-4.6-9.6-9.2C1 8.6 3 5 6.6 5c2.1 0 3.6 1.2 5.4 3.1C13.8 6.2 15.3 5 17.4 5 21 5 23 8.6 21.6 11.8 19.5 16.4 12 21 12 21z",
  share: "M12 3l5 5h-3.5v7h-3V8H7l5-5zM5 13h2v6h10v-6h2v8H5v-8z",
  cart: "M7.2 18.2a1.9 1.9 0 1 0 0 3.8 1.9 1.9 0 0 0 0-3.8zm10 0a1.9 1.9 0 1 0 0 3.8 1.9 1.9 0 0 0 0-3.8zM2 3h3.1l.9 2H21l-3.3 7.2a2 2 0 0 1-1.8 1.1H8.6l-1 1.7h12v2H4.2l2.6-4.6L4 5H2V3z",
  bag: "M6 7h12l1.2 14H4.8L6 7zm3 0a3 3 0 0 1 6 0h-2a1 1 0 0 0-2 0H9z",
  volume: "M3 9v6h4l5 5V4L7 9H3zm13.5 3A4.5 4.5 0 0 0 14 8v8a4.5 4.5 0 0 0 2.5-4zM14 3.2v2.1a7 7 0 0 1 0 13.4v2.1a9 9 0 0 0 0-17.6z",
  muted: "M3 9v6h4l5 5V4L7 9H3zm13.6 3 2.7-2.7-1.4-1.4-2.7 2.7-2.7-2.7-1.4 1.4 2.7 2.7-2.7 2.7 1.4 1.4 2.7-2.7 2.7 2.7 1.4-1.4-2.7-2.7z",
  eye: "M12 5C6.5 5 2.5 9.6 1 12c1.5 2.4 5.5 7 11 7s9.5-4.6 11-7c-1.5-2.4-5.5-7-11-7zm0 11a4 4 0 1 1 0-8 4 4 0 0 1 0 8zm0-2.2a1.8 1.8 0 1 0 0-3.6 1.8 1.8 0 0 0 0 3.6z",
  send: "M3 20.5 21.5 12 3 3.5V10l13 2-13 2v6.5z",
  close: "M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12l5.6 5.6-1.4 1.4-5.6-5.6L6.4 19 5 17.6l5.6-5.6L5 6.4 6.4 5z",
  play: "M8 5v14l11-7L8 5z",
  pause: "M6 5h4v14H6V5zm8 0h4v14h-4V5z",
  bolt: "M13 2 4 14h7l-1 8 9-12h-7l1-8z",
  bell: "M12 22a2 2 0 0 0 2-2h-4a2 2 0 0 0 2 2zm6-6v-5a6 6 0 0 0-5-5.9V4a1 1 0 0 0-2 0v1.1A6 6 0 0 0 6 11v5l-2 2v1h16v-1l-2-2z",
  minimise: "M3 5h18v14H3V5zm2 2v10h14V7H5zm6 4h6v4h-6v-4z",
  ticket: "M3 6h18v4a2 2 0 0 0 0 4v4H3v-4a2 2 0 0 0 0-4V6zm11 1.5v2h1.5v-2H14zm0 3.5v2h1.5v-2H14zm0 3.5v2h1.5v-2H14z",
  pin: "M14.5 2 22 9.5l-2 .6-4.3 4.3.8 4.6-1.8 1.8-4.2-4.2L4.6 22 2 19.4l5.4-5.9L3.2 9.3 5 7.5l4.6.8L13.9 4l.6-2z",
  poll: "M4 20V10h3.5v10H4zm6.3 0V4h3.4v16h-3.4zm6.2 0v-7H20v7h-3.5z",
  check: "M9 16.2 4.8 12l-1.4 1.4L9 19 21 7l-1.4-1.4L9 16.2z",
  restart: "M12 5V1.5L7 6l5 4.5V7a5 5 0 1 1-5 5H5a7 7 0 1 0 7-7z",
} as const;

export type IconName = keyof typeof PATHS;

export function icon(name: IconName, size = 20): TemplateResult {
  // The whole <svg> element is in an html`` template: svg`` is for fragments inside one.
  return html`<svg class="i" width=${size} height=${size} viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path fill="currentColor" d=${PATHS[name]}></path></svg>`;
}
