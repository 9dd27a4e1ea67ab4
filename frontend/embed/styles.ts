// The player's styles, inside its Shadow DOM: the vendor's CSS cannot reach in,
// ours cannot leak out. Phone portrait first (9:16, things over the video);
// from 900 px of the element's own width (a container query, not the window's),
// the video sits left of a side panel with the chat and the products.

import { css } from "lit";

export const styles = css`
  :host {
    display: block;
    position: relative;
    container-type: inline-size;
    font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "Noto Sans Thai", "Noto Sans SC", sans-serif;
    font-size: 14px;
    line-height: 1.35;
    color: #fff;
    --radius: 14px;
    --sheet-bg: #fff;
    --sheet-fg: #1d1b18;
    --sheet-muted: #6b645a;
    --sheet-line: #ebe6de;
    /* sale text: 4.5:1 on white (#ee4d2d was 3.7:1); the dark themes keep the bright one */
    --sale: #c0341a;
  }
  :host([theme="dark"]) {
    --sheet-bg: #1f1d1a;
    --sheet-fg: #f6f5f2;
    --sheet-muted: #b3aa9c;
    --sheet-line: #3a3631;
    --sale: #ee4d2d;
  }
  @media (prefers-color-scheme: dark) {
    :host([theme="auto"]) {
      --sheet-bg: #1f1d1a;
      --sheet-fg: #f6f5f2;
      --sheet-muted: #b3aa9c;
      --sheet-line: #3a3631;
      --sale: #ee4d2d;
    }
  }
  :host([layout="fullscreen"]) {
    position: fixed;
    inset: 0;
    z-index: 2147483000;
  }
  :host([layout="floating"]) {
    position: fixed;
    right: 16px;
    bottom: 16px;
    width: 120px;
    height: 213px;
    z-index: 2147483000;
    touch-action: none;
  }
  :host([layout="floating"][expanded]) {
    inset: 0 !important;
    width: auto !important;
    height: auto !important;
    touch-action: auto;
  }
  * {
    box-sizing: border-box;
  }
  button {
    font: inherit;
    color: inherit;
    cursor: pointer;
    border: 0;
    background: none;
    padding: 0;
  }
  button:disabled {
    cursor: default;
    opacity: 0.5;
  }
  :focus-visible {
    outline: 3px solid var(--brand);
    outline-offset: 2px;
  }
  img {
    display: block;
  }
  .i {
    display: inline-block;
    vertical-align: -0.2em;
    flex: none;
  }
  h2,
  h3,
  p {
    margin: 0;
  }

  /* -- the frame ------------------------------------------------------------------ */
  .player {
    position: relative;
    width: 100%;
    aspect-ratio: 9 / 16;
    max-height: 100vh;
    background: #000;
    border-radius: var(--radius);
    overflow: hidden;
    display: grid;
    grid-template-columns: 1fr;
  }
  :host([layout="fullscreen"]) .player,
  :host([layout="floating"][expanded]) .player {
    aspect-ratio: auto;
    height: 100%;
    max-height: none;
    border-radius: 0;
  }
  .player.bubble {
    aspect-ratio: auto;
    height: 100%;
    border-radius: 16px;
    box-shadow: 0 8px 28px rgb(0 0 0 / 0.35);
  }
  .bubble .stage {
    cursor: grab;
  }
  .bubble-thumb {
    position: absolute;
    left: 6px;
    bottom: 6px;
    width: 44px;
    height: 44px;
    border-radius: 8px;
    object-fit: cover;
    border: 2px solid #fff;
  }
  .bubble .badge {
    position: absolute;
    top: 6px;
    left: 6px;
  }
  @container (min-width: 900px) {
    .player {
      aspect-ratio: 16 / 9;
      grid-template-columns: minmax(0, 1fr) 360px;
    }
    .overlay-chat,
    .stage .composer,
    .lineup-button {
      display: none !important;
    }
  }
  @container (max-width: 899px) {
    .panel {
      display: none !important;
    }
  }
  .stage {
    position: relative;
    min-height: 0;
    overflow: hidden;
    background: #111;
  }
  .backdrop {
    position: absolute;
    inset: -20px;
    background-size: cover;
    background-position: center;
    filter: blur(24px) brightness(0.55);
  }
  .video {
    position: absolute;
    inset: 0;
    width: 100%;
    height: 100%;
    object-fit: contain;
    background: transparent;
  }
  .shade {
    position: absolute;
    inset: 0;
    pointer-events: none;
    background: linear-gradient(to bottom, rgb(0 0 0 / 0.45), transparent 22%, transparent 52%, rgb(0 0 0 / 0.7));
  }
  .status {
    position: absolute;
    inset: 0;
    display: grid;
    place-content: center;
    justify-items: center;
    gap: 12px;
    padding: 24px;
    text-align: center;
    font-size: 16px;
    color: #f1ece4;
    pointer-events: none;
  }
  .spinner {
    width: 28px;
    height: 28px;
    border-radius: 50%;
    border: 3px solid rgb(255 255 255 / 0.3);
    border-top-color: #fff;
    animation: spin 0.9s linear infinite;
  }
  @keyframes spin {
    to {
      transform: rotate(360deg);
    }
  }

  /* -- top bar ---------------------------------------------------------------------- */
  .top {
    position: absolute;
    top: 0;
    left: 0;
    right: 0;
    display: flex;
    align-items: center;
    justify-content: space-between;
    gap: 8px;
    padding: 12px;
  }
  .host {
    display: flex;
    align-items: center;
    gap: 8px;
    min-width: 0;
    padding: 3px 10px 3px 3px;
    border-radius: 999px;
    background: rgb(0 0 0 / 0.35);
  }
  .avatar {
    width: 32px;
    height: 32px;
    flex: none;
    border-radius: 50%;
    object-fit: cover;
    background: var(--brand);
    color: var(--on-brand);
    display: grid;
    place-items: center;
    font-weight: 700;
  }
  .who {
    display: grid;
    min-width: 0;
  }
  .vendor-name,
  .show-title {
    white-space: nowrap;
    overflow: hidden;
    text-overflow: ellipsis;
  }
  .show-title {
    font-size: 11px;
    opacity: 0.85;
  }
  .top-right {
    display: flex;
    align-items: center;
    gap: 6px;
    flex: none;
  }
  .badge {
    padding: 2px 8px;
    border-radius: 6px;
    font-size: 11px;
    font-weight: 800;
    letter-spacing: 0.06em;
    background: #d32f2f;
    color: #fff;
  }
  .badge.replay {
    background: #2e7d32;
  }
  .badge.soon {
    background: rgb(255 255 255 / 0.2);
  }
  .viewers {
    padding: 2px 8px;
    border-radius: 6px;
    font-size: 12px;
    background: rgb(0 0 0 / 0.4);
  }
  .icon {
    min-width: 40px;
    min-height: 40px;
    display: inline-grid;
    place-items: center;
    border-radius: 50%;
    font-size: 18px;
    position: relative;
  }

  /* -- scheduled ------------------------------------------------------------------- */
  .poster {
    position: absolute;
    inset: 0;
    display: grid;
    align-content: center;
    justify-items: center;
    gap: 10px;
    padding: 24px;
    text-align: center;
    background: rgb(0 0 0 / 0.35);
    z-index: 1;
  }
  .poster h2 {
    font-size: 22px;
    text-wrap: balance;
  }
  .countdown {
    font-size: 18px;
    font-weight: 700;
    font-variant-numeric: tabular-nums;
  }
  .remind {
    display: flex;
    flex-wrap: wrap;
    gap: 8px;
    justify-content: center;
  }
  a.button {
    display: inline-block;
    padding: 10px 16px;
    border-radius: 999px;
    text-decoration: none;
    font-weight: 700;
    color: inherit;
  }
  .brand,
  a.button.brand {
    background: var(--brand);
    color: var(--on-brand);
  }
  .ghost,
  a.button.ghost {
    border: 1px solid currentColor;
    background: transparent;
  }

  /* -- deal banner --------------------------------------------------------------------- */
  .deal-banner {
    position: absolute;
    top: 62px;
    left: 12px;
    right: 12px;
    display: grid;
    gap: 4px;
    padding: 8px 12px;
    text-align: left;
    border-radius: 12px;
    color: #fff;
    background: linear-gradient(100deg, #c0341a, #cc3d1f); /* white text: ≥ 4.9:1 */
    box-shadow: 0 4px 16px rgb(0 0 0 / 0.3);
    z-index: 2;
  }
  .flash {
    font-weight: 800;
    font-size: 13px;
  }
  .flash b {
    margin-left: 4px;
    padding: 0 6px;
    border-radius: 4px;
    background: #fff;
    color: var(--sale);
  }
  .deal-title {
    font-size: 12px;
    white-space: nowrap;
    overflow: hidden;
    text-overflow: ellipsis;
  }
  .deal-meta {
    display: flex;
    align-items: center;
    gap: 8px;
    font-size: 12px;
    font-variant-numeric: tabular-nums;
  }
  .bar {
    flex: 1;
    height: 6px;
    border-radius: 3px;
    background: rgb(255 255 255 / 0.35);
    overflow: hidden;
  }
  .bar i {
    display: block;
    height: 100%;
    background: #ffd54f;
  }
  .left {
    font-weight: 700;
  }

  /* -- buttons over the video ----------------------------------------------------------- */
  .unmute,
  .tap-play {
    position: absolute;
    left: 50%;
    top: 42%;
    transform: translate(-50%, -50%);
    padding: 10px 18px;
    border-radius: 999px;
    background: rgb(0 0 0 / 0.6);
    font-weight: 700;
    z-index: 2;
  }
  .rail {
    position: absolute;
    right: 8px;
    bottom: 150px;
    display: grid;
    gap: 6px;
    z-index: 2;
  }
  .rail .icon {
    background: rgb(0 0 0 / 0.35);
  }
  .like {
    color: #ff4d6d;
  }
  .like small {
    position: absolute;
    bottom: -6px;
    font-size: 10px;
    color: #fff;
  }
  .count {
    position: absolute;
    top: -2px;
    right: -2px;
    min-width: 18px;
    height: 18px;
    padding: 0 4px;
    border-radius: 9px;
    font-size: 11px;
    font-weight: 700;
    line-height: 18px;
    background: var(--brand);
    color: var(--on-brand);
  }
  .tabs .count {
    position: static;
    display: inline-block;
  }
  .hearts {
    position: absolute;
    right: 20px;
    bottom: 200px;
    width: 40px;
    height: 240px;
    pointer-events: none;
  }
  .hearts span {
    position: absolute;
    bottom: 0;
    color: #ff4d6d;
    font-size: 22px;
    animation: float 1.6s ease-out forwards;
  }
  @keyframes float {
    from {
      transform: translateY(0) scale(0.6);
      opacity: 1;
    }
    to {
      transform: translateY(-220px) scale(1.2);
      opacity: 0;
    }
  }
  @media (prefers-reduced-motion: reduce) {
    .hearts span {
      animation-duration: 0.01s;
    }
  }

  /* -- the bottom: chat, pinned products, composer ------------------------------------------ */
  .bottom {
    position: absolute;
    left: 0;
    right: 56px;
    bottom: 0;
    display: grid;
    gap: 8px;
    padding: 0 10px 10px;
    z-index: 2;
  }
  .overlay-chat {
    max-height: 150px;
    overflow: hidden;
    -webkit-mask-image: linear-gradient(to top, #000 70%, transparent);
    mask-image: linear-gradient(to top, #000 70%, transparent);
    cursor: pointer;
  }
  .chat-log {
    list-style: none;
    margin: 0;
    padding: 0;
    display: grid;
    gap: 4px;
  }
  .overlay-chat .msg {
    justify-self: start;
    padding: 3px 10px;
    border-radius: 12px;
    background: rgb(0 0 0 / 0.35);
    text-shadow: 0 1px 2px rgb(0 0 0 / 0.5);
    overflow-wrap: anywhere;
  }
  .author {
    font-weight: 700;
    opacity: 0.85;
    margin-right: 4px;
  }
  .msg.staff .author {
    color: #ffd54f;
  }
  .pinned-message {
    padding: 6px 10px;
    border-radius: 10px;
    background: rgb(255 255 255 / 0.92);
    color: #1d1b18;
    overflow-wrap: anywhere;
  }
  .tag {
    font-size: 11px;
    font-weight: 700;
    color: var(--sale);
  }
  /* always light, whatever the theme: the light theme's text colours */
  .card,
  .pinned-message,
  .flash b {
    --sale: #c0341a;
    --sheet-muted: #6b645a;
  }
  .card {
    border-radius: 12px;
    background: rgb(255 255 255 / 0.95);
    color: #1d1b18;
  }
  .pins {
    display: flex;
    gap: 8px;
    overflow-x: auto;
    scroll-snap-type: x mandatory;
  }
  .product-card {
    flex: 0 0 100%;
    scroll-snap-align: start;
    display: flex;
    align-items: center;
    gap: 10px;
    padding: 8px;
  }
  .product-card img,
  .thumb-empty {
    width: 56px;
    height: 56px;
    flex: none;
    border-radius: 8px;
    object-fit: cover;
    background: #eee;
  }
  .product-card .info {
    flex: 1;
    min-width: 0;
    display: grid;
  }
  .product-card .title {
    font-size: 13px;
    font-weight: 600;
    white-space: nowrap;
    overflow: hidden;
    text-overflow: ellipsis;
  }
  .price {
    font-weight: 800;
    color: var(--sale);
  }
  .was {
    color: var(--sheet-muted);
    font-size: 12px;
    margin-left: 4px;
  }
  .buy {
    padding: 10px 16px;
    border-radius: 999px;
    font-weight: 800;
    flex: none;
  }
  .composer {
    display: flex;
    gap: 6px;
  }
  .composer input {
    flex: 1;
    min-width: 0;
    font: inherit;
    padding: 10px 14px;
    border-radius: 999px;
    border: 0;
    background: rgb(255 255 255 / 0.18);
    color: inherit;
  }
  .stage .composer input::placeholder {
    color: rgb(255 255 255 / 0.8);
  }
  .send {
    min-width: 40px;
    border-radius: 50%;
    background: var(--brand);
    color: var(--on-brand);
  }
  .muted-note {
    padding: 8px 12px;
    border-radius: 10px;
    background: rgb(0 0 0 / 0.5);
  }
  .chip {
    justify-self: start;
    padding: 6px 12px;
    border-radius: 999px;
    font-weight: 600;
  }
  .coupon-chip {
    background: #fff3cd;
    color: #5c4400;
  }
  .poll {
    padding: 10px;
    display: grid;
    gap: 6px;
  }
  .poll ul {
    list-style: none;
    margin: 0;
    padding: 0;
    display: grid;
    gap: 4px;
  }
  .option {
    width: 100%;
    display: flex;
    justify-content: space-between;
    padding: 8px 10px;
    border-radius: 8px;
    border: 1px solid #ddd5c8;
    background: linear-gradient(to right, #ffe0d6 var(--pct), transparent var(--pct));
    color: #1d1b18;
    text-align: left;
  }
  .option:disabled {
    opacity: 1;
  }
  .option.chosen {
    border-color: var(--sale);
  }
  .meta,
  .hint {
    font-size: 12px;
    color: var(--sheet-muted);
  }
  .poll .meta {
    color: #6b645a;
  }

  /* -- replay ------------------------------------------------------------------------ */
  .seek {
    display: flex;
    align-items: center;
    gap: 8px;
    font-size: 12px;
    font-variant-numeric: tabular-nums;
  }
  .track {
    position: relative;
    flex: 1;
    display: flex;
    align-items: center;
  }
  .track input {
    width: 100%;
    accent-color: var(--brand);
  }
  .mark {
    position: absolute;
    top: -14px;
    width: 12px;
    height: 12px;
    margin-left: -6px;
    border-radius: 50%;
    background: #ffd54f;
    border: 2px solid #000;
  }

  /* -- sheets --------------------------------------------------------------------------- */
  .scrim {
    position: absolute;
    inset: 0;
    background: rgb(0 0 0 / 0.35);
    z-index: 5;
  }
  .sheet {
    position: absolute;
    left: 0;
    right: 0;
    bottom: 0;
    max-height: 72%;
    display: grid;
    grid-template-rows: auto minmax(0, 1fr);
    border-radius: 18px 18px 0 0;
    background: var(--sheet-bg);
    color: var(--sheet-fg);
    z-index: 6;
    animation: rise 0.2s ease-out;
  }
  @container (min-width: 900px) {
    .sheet {
      left: auto;
      top: 0;
      max-height: none;
      width: 400px;
      border-radius: 0;
    }
  }
  @keyframes rise {
    from {
      transform: translateY(30%);
      opacity: 0;
    }
  }
  .sheet > header {
    display: flex;
    align-items: center;
    justify-content: space-between;
    padding: 8px 8px 4px 16px;
    border-bottom: 1px solid var(--sheet-line);
  }
  .sheet h2 {
    font-size: 16px;
  }
  .sheet-body {
    overflow-y: auto;
    padding: 12px 16px 16px;
    display: grid;
    gap: 12px;
    align-content: start;
  }
  .sheet .price {
    font-size: 18px;
  }
  .gallery {
    display: flex;
    gap: 8px;
    overflow-x: auto;
    scroll-snap-type: x mandatory;
  }
  .gallery img {
    width: 160px;
    height: 160px;
    flex: none;
    border-radius: 12px;
    object-fit: cover;
    scroll-snap-align: start;
  }
  .product-sheet,
  .deal-sheet {
    display: grid;
    gap: 12px;
  }
  .product-sheet h3,
  .deal-sheet h3 {
    font-size: 17px;
  }
  .stock {
    font-size: 12px;
    color: #2e7d32;
  }
  .stock.low,
  .stock.out {
    color: var(--sale);
  }
  fieldset.axis {
    border: 0;
    margin: 0;
    padding: 0;
    display: grid;
    gap: 6px;
  }
  legend {
    padding: 0;
    margin-bottom: 6px;
    font-size: 13px;
    color: var(--sheet-muted);
  }
  legend b {
    color: var(--sheet-fg);
  }
  .chips {
    display: flex;
    flex-wrap: wrap;
    gap: 6px;
  }
  .chips .chip {
    border: 1px solid var(--sheet-line);
    min-height: 36px;
  }
  .chips .chip.on {
    border-color: var(--sale);
    color: var(--sale);
    background: color-mix(in srgb, var(--sale) 8%, transparent);
  }
  .chip.struck {
    text-decoration: line-through;
    color: var(--sheet-muted);
  }
  .stepper {
    display: inline-flex;
    align-items: center;
    gap: 4px;
    justify-self: start;
    border: 1px solid var(--sheet-line);
    border-radius: 999px;
  }
  .stepper button {
    width: 36px;
    height: 36px;
    font-size: 18px;
  }
  .stepper output {
    min-width: 28px;
    text-align: center;
    font-variant-numeric: tabular-nums;
  }
  .actions {
    display: grid;
    grid-auto-flow: column;
    gap: 8px;
  }
  .wide {
    width: 100%;
    padding: 12px 16px;
    border-radius: 999px;
    font-weight: 800;
    font-size: 15px;
  }
  .description {
    white-space: pre-line;
    color: var(--sheet-muted);
  }
  .shop-link {
    color: inherit;
    font-weight: 600;
  }
  .deal-sheet .head {
    display: flex;
    gap: 12px;
  }
  .deal-sheet .head img {
    width: 96px;
    height: 96px;
    border-radius: 12px;
    object-fit: cover;
  }
  .deal-sheet .flash {
    color: var(--sale);
  }
  .reserved {
    font-size: 16px;
    font-weight: 800;
    color: #2e7d32;
    font-variant-numeric: tabular-nums;
  }
  .refusal {
    font-weight: 600;
    color: var(--sale);
  }
  .waiting {
    font-weight: 800;
    font-size: 16px;
  }
  .lineup,
  .cart-lines,
  .coupons {
    list-style: none;
    margin: 0;
    padding: 0;
    display: grid;
    gap: 10px;
  }
  .lineup {
    align-content: start; /* in the side panel's tall row: items stay together at the top */
  }
  .lineup-item {
    display: grid;
    gap: 6px;
  }
  .lineup .row {
    display: flex;
    gap: 10px;
    align-items: center;
    text-align: left;
    width: 100%;
  }
  .lineup img,
  .cart-line img {
    width: 64px;
    height: 64px;
    flex: none;
    border-radius: 10px;
    object-fit: cover;
  }
  .lineup .info,
  .cart-line .info {
    display: grid;
    min-width: 0;
    flex: 1;
  }
  .lineup .title,
  .cart-line .title {
    font-weight: 600;
  }
  .chapter {
    border: 1px solid var(--sheet-line);
    font-size: 12px;
  }
  .cart-line {
    display: flex;
    align-items: center;
    gap: 10px;
  }
  .variant {
    font-size: 12px;
    color: var(--sheet-muted);
  }
  .subtotal {
    display: flex;
    justify-content: space-between;
    font-size: 16px;
  }
  .coupon {
    display: flex;
    justify-content: space-between;
    gap: 12px;
    padding: 12px;
    border: 1px dashed var(--sale);
    border-radius: 12px;
  }
  .coupon .code {
    display: grid;
    justify-items: center;
    padding: 8px 12px;
    border-radius: 10px;
    background: color-mix(in srgb, var(--sale) 10%, transparent);
  }
  .coupon code {
    font-size: 16px;
    font-weight: 800;
  }
  .empty {
    color: var(--sheet-muted);
    text-align: center;
    padding: 16px;
  }
  .sheet .chat-log .msg,
  .panel .chat-log .msg {
    overflow-wrap: anywhere;
  }

  /* -- side panel ------------------------------------------------------------------------ */
  .panel {
    display: grid;
    grid-template-rows: auto minmax(0, 1fr);
    min-height: 0;
    background: var(--sheet-bg);
    color: var(--sheet-fg);
  }
  .tabs {
    display: flex;
    border-bottom: 1px solid var(--sheet-line);
  }
  .tabs button {
    flex: 1;
    padding: 12px;
    font-weight: 700;
    color: var(--sheet-muted);
  }
  .tabs button[aria-selected="true"] {
    color: var(--sheet-fg);
    box-shadow: inset 0 -3px 0 var(--brand);
  }
  .tab-body {
    min-height: 0;
    display: grid;
    grid-template-rows: minmax(0, 1fr) auto;
    gap: 8px;
    padding: 12px;
    overflow-y: auto;
  }
  .panel .chat-log {
    overflow-y: auto;
    align-content: end;
  }
  .panel .composer input,
  .sheet .composer input {
    background: color-mix(in srgb, var(--sheet-fg) 8%, transparent);
  }

  .debug {
    position: absolute;
    left: 12px;
    top: 120px;
    margin: 0;
    padding: 2px 6px;
    font: 11px ui-monospace, monospace;
    background: rgb(0 0 0 / 0.5);
    z-index: 3;
  }

  /* -- toast ------------------------------------------------------------------------------- */
  .toast:empty {
    display: none;
  }
  .toast {
    position: absolute;
    left: 50%;
    top: 50%;
    transform: translate(-50%, -50%);
    max-width: 86%;
    padding: 10px 16px;
    border-radius: 12px;
    background: rgb(20 18 16 / 0.9);
    color: #fff;
    text-align: center;
    z-index: 10;
  }
`;
