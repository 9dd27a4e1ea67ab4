import { css } from "lit";

export const shared = css`
  :host { display: block; }
  h1, h2, h3 { margin: 0 0 12px; font-weight: 650; }
  .card { background: #fff; border: 1px solid #e6e1d8; border-radius: 12px; padding: 20px; }
  button, .button {
    font: inherit; border: 1px solid #1d1b18; background: #1d1b18; color: #fff;
    border-radius: 8px; padding: 8px 14px; cursor: pointer;
  }
  button.secondary { background: #fff; color: #1d1b18; }
  button.danger { background: #b3261e; border-color: #b3261e; }
  button:disabled { opacity: 0.5; cursor: default; }
  input, textarea, select {
    font: inherit; padding: 8px 10px; border: 1px solid #cfc8bb; border-radius: 8px;
    background: #fff; width: 100%; box-sizing: border-box;
  }
  label { display: grid; gap: 4px; font-size: 14px; color: #5a544a; }
  .error { color: #b3261e; font-size: 14px; }
  .muted { color: #7a7367; font-size: 14px; }
  .pill { display: inline-block; padding: 2px 10px; border-radius: 999px; font-size: 12px;
    font-weight: 600; text-transform: uppercase; letter-spacing: 0.04em; background: #ece7dd;
    white-space: nowrap; }
  .pill.live { background: #e53935; color: #fff; }
  .pill.replay { background: #2e7d32; color: #fff; }
  table { width: 100%; border-collapse: collapse; }
  th, td { text-align: left; padding: 10px 8px; border-bottom: 1px solid #eee8de; vertical-align: middle; }
  /* Chinese and Thai may break between any two characters: keep short headings whole */
  th { font-size: 12px; text-transform: uppercase; color: #7a7367; letter-spacing: 0.04em;
    white-space: nowrap; }
  code { font-family: ui-monospace, "SF Mono", Menlo, monospace; font-size: 13px;
    background: #f3efe7; padding: 2px 6px; border-radius: 6px; word-break: break-all; }
`;
